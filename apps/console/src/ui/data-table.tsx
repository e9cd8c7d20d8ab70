import type { Key, ReactNode } from 'react';

/** One column of a {@link DataTable}. */
export interface Column<T> {
  /** The header's text, and the column's key: unique within a table. */
  readonly header: string;
  /** The header is for screen readers only (a column of row actions). */
  readonly hideHeader?: boolean;
  /** The column's cells head their rows (`<th scope="row">`), e.g. the object's name. */
  readonly rowHeader?: boolean;
  /** A class on the column's body cells (not on its header). */
  readonly className?: string;
  readonly cell: (row: T) => ReactNode;
}

/** What a body row carries besides its cells: a class, and the `data-*` attributes that tests and styles pick rows by. */
export type RowAttributes = { readonly className?: string | undefined } & { readonly [data: `data-${string}`]: string | number | undefined };

/**
 * The console's table of objects: a scrolling `table-wrap` around a table with one header row, then one row per
 * item. The table is named for assistive technology by `label` (aria-label) or by `caption` (a caption shown
 * only to screen readers). With `empty`, no rows show that sentence instead of the table.
 */
export function DataTable<T>(props: {
  readonly label?: string;
  readonly caption?: string;
  readonly columns: readonly Column<T>[];
  readonly rows: readonly T[];
  readonly rowKey: (row: T) => Key;
  readonly rowAttributes?: (row: T) => RowAttributes;
  readonly empty?: ReactNode;
}) {
  const { columns, rows, rowKey, rowAttributes } = props;
  if (rows.length === 0 && props.empty !== undefined) return <p>{props.empty}</p>;
  return (
    <div className="table-wrap">
      <table aria-label={props.label}>
        {props.caption !== undefined && <caption className="sr-only">{props.caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col">
                {c.hideHeader === true ? <span className="sr-only">{c.header}</span> : c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...rowAttributes?.(row)}>
              {columns.map((c) =>
                c.rowHeader === true ? (
                  <th key={c.header} scope="row" className={c.className}>
                    {c.cell(row)}
                  </th>
                ) : (
                  <td key={c.header} className={c.className}>
                    {c.cell(row)}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
