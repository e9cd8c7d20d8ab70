import { Link } from '../router';

/** Shown for unknown paths and for objects outside the caller's sites (the API answers those with 404 too). */
export function NotFound({ what }: { what?: string }) {
  return (
    <section className="not-found" aria-labelledby="nf-title">
      <h1 id="nf-title">Not found</h1>
      <p>{what ?? 'There is nothing at this address'}, or it is outside the sites you can see.</p>
      <p>
        <Link to="/">Back to the federation overview</Link>
      </p>
    </section>
  );
}
