import { useSession } from '../session';

/**
 * The caller's account holds no grant: they see no site because they may see none, not because there is none.
 * Says so and whom to ask, without a word about which sites exist or how many (they may not know).
 */
export function NoAccess() {
  const { me } = useSession();
  return (
    <div className="banner banner-warning" role="status" data-testid="no-access">
      <strong>Your account has no access to any site yet</strong>
      <p>
        You are signed in as <strong>{me?.username}</strong>, but no site has been opened to this account, so there is nothing to show. Ask a head-office administrator of your
        organisation to grant you a role (viewer or site admin) for your office; sign in again once they have.
      </p>
    </div>
  );
}

/** Signed in with no grant at all: not head office and no readable site. */
export function useHasNoAccess(): boolean {
  const { me } = useSession();
  return me !== undefined && !me.headOffice && Array.isArray(me.readableSites) && me.readableSites.length === 0;
}
