/**
 * A table of one page of server rows (TanStack Table, manual sorting and paging: the browser
 * never holds more than a page, whatever the size of the inventory). Sortable headers are
 * buttons, so they work from the keyboard, and carry aria-sort.
 */
import { type ColumnDef, flexRender, getCoreRowModel, type RowData, type RowSelectionState, type Updater, useReactTable } from '@tanstack/react-table';
import { fmt } from './common';

declare module '@tanstack/react-table' {
  interface ColumnMeta<TData extends RowData, TValue> {
    /** The API's sort key for this column (`sort=`); absent: not sortable. */
    sortKey?: string;
    /** Numbers: right-aligned. */
    numeric?: boolean;
    /** The first sort of this column is descending (risk, severity, times). */
    descFirst?: boolean;
    /** This column's cells are row headers (the address). */
    rowHeader?: boolean;
  }
}

export interface SortState {
  key: string;
  desc: boolean;
}

/** A column of any value type (each column of a table has its own). */
// biome-ignore lint/suspicious/noExplicitAny: column value types differ per column
export type AnyColumn<T> = ColumnDef<T, any>;

export interface DataTableProps<T> {
  caption: string;
  columns: AnyColumn<T>[];
  data: T[];
  rowId(row: T): string;
  sort?: SortState | null;
  onSort?(next: SortState): void;
  selection?: RowSelectionState;
  onSelectionChange?(next: RowSelectionState): void;
  busy?: boolean;
}

export function DataTable<T>({ caption, columns, data, rowId, sort, onSort, selection, onSelectionChange, busy }: DataTableProps<T>) {
  const table = useReactTable({
    data,
    columns,
    getRowId: (row) => rowId(row),
    getCoreRowModel: getCoreRowModel(),
    manualSorting: true,
    manualPagination: true,
    enableRowSelection: selection !== undefined,
    state: { rowSelection: selection ?? {} },
    onRowSelectionChange: (u: Updater<RowSelectionState>) => {
      if (!onSelectionChange) return;
      onSelectionChange(typeof u === 'function' ? u(selection ?? {}) : u);
    },
  });

  return (
    <div className="table-wrap">
      <table className="data" aria-busy={busy ? true : undefined}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          {table.getHeaderGroups().map((hg) => (
            <tr key={hg.id}>
              {hg.headers.map((h) => {
                const meta = h.column.columnDef.meta;
                const key = meta?.sortKey;
                const active = key !== undefined && sort?.key === key;
                const ariaSort = !key ? undefined : active ? (sort?.desc ? 'descending' : 'ascending') : 'none';
                const content = h.isPlaceholder ? null : flexRender(h.column.columnDef.header, h.getContext());
                return (
                  <th key={h.id} scope="col" aria-sort={ariaSort} className={meta?.numeric ? 'num' : undefined}>
                    {key && onSort ? (
                      <button
                        type="button"
                        className="sort"
                        onClick={() => onSort({ key, desc: active ? !sort?.desc : meta?.descFirst === true })}
                      >
                        {content}
                        <span className="sort-mark" aria-hidden="true">
                          {active ? (sort?.desc ? '▼' : '▲') : '↕'}
                        </span>
                        <span className="visually-hidden">{active ? (sort?.desc ? ', sorted descending' : ', sorted ascending') : ', sort'}</span>
                      </button>
                    ) : (
                      content
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((row) => (
            <tr key={row.id} className={row.getIsSelected() ? 'selected' : undefined}>
              {row.getVisibleCells().map((cell) => {
                const meta = cell.column.columnDef.meta;
                const body = flexRender(cell.column.columnDef.cell, cell.getContext());
                return meta?.rowHeader ? (
                  <th key={cell.id} scope="row">
                    {body}
                  </th>
                ) : (
                  <td key={cell.id} className={meta?.numeric ? 'num' : undefined}>
                    {body}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export const PAGE_SIZES = [25, 50, 100, 200];

/** First / previous / next / last, the rows shown and the page size. */
export function Pager({
  total,
  offset,
  size,
  shown,
  onOffset,
  onSize,
  label,
}: {
  total: number | null;
  offset: number;
  size: number;
  shown: number;
  onOffset(o: number): void;
  onSize(s: number): void;
  label: string;
}) {
  const last = total === null ? null : Math.max(0, Math.floor((total - 1) / size) * size);
  const page = Math.floor(offset / size) + 1;
  const pages = total === null ? null : Math.max(1, Math.ceil(total / size));
  const sizeId = `${label.replace(/\W+/g, '-')}-size`;
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <p className="pager-status" aria-live="polite">
        {shown === 0 ? 'No rows' : `Rows ${fmt(offset + 1)}–${fmt(offset + shown)}`}
        {total !== null ? ` of ${fmt(total)}` : ''}
        {pages !== null ? ` · page ${fmt(page)} of ${fmt(pages)}` : ''}
      </p>
      <div className="pager-buttons">
        <button type="button" onClick={() => onOffset(0)} disabled={offset === 0}>
          First
        </button>
        <button type="button" onClick={() => onOffset(Math.max(0, offset - size))} disabled={offset === 0}>
          Previous
        </button>
        <button type="button" onClick={() => onOffset(offset + size)} disabled={last === null ? shown < size : offset >= last}>
          Next
        </button>
        <button type="button" onClick={() => last !== null && onOffset(last)} disabled={last === null || offset >= last}>
          Last
        </button>
        <label htmlFor={sizeId}>Rows per page</label>
        <select id={sizeId} value={size} onChange={(e) => onSize(Number(e.target.value))}>
          {PAGE_SIZES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
    </nav>
  );
}
