/**
 * Every table of the console: TanStack Table (headless) for the column model, one markup for all. A
 * column whose meta says `rowHeader` renders as the row's header cell (screen readers name rows by it).
 */
import type { ReactNode } from 'react';
import { flexRender, getCoreRowModel, useReactTable, type ColumnDef, type RowData } from '@tanstack/react-table';

declare module '@tanstack/react-table' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface ColumnMeta<TData extends RowData, TValue> {
    /** this column's cells are the row headers (<th scope="row">) */
    rowHeader?: boolean;
    className?: string;
  }
}

export type Columns<T> = ColumnDef<T, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface DataTableProps<T> {
  label: string;
  columns: Columns<T>;
  data: T[];
  rowId: (row: T, index: number) => string;
  /** extra attributes of a row's <tr> (data-*, aria-selected) */
  rowProps?: (row: T) => Record<string, string | boolean | undefined>;
  busy?: boolean;
  /** shown instead of the table when there is no row */
  empty?: ReactNode;
  /** wrap in a scrolling box (wide tables) */
  wrap?: boolean;
}

export function DataTable<T>({ label, columns, data, rowId, rowProps, busy, empty, wrap = true }: DataTableProps<T>) {
  const table = useReactTable({ data, columns, getCoreRowModel: getCoreRowModel(), getRowId: (row, index) => rowId(row, index) });
  if (data.length === 0 && empty !== undefined) return <>{empty}</>;
  const t = (
    <table aria-label={label} aria-busy={busy}>
      <thead>
        {table.getHeaderGroups().map((g) => (
          <tr key={g.id}>
            {g.headers.map((h) => (
              <th key={h.id} scope="col">
                {h.isPlaceholder ? null : flexRender(h.column.columnDef.header, h.getContext())}
              </th>
            ))}
          </tr>
        ))}
      </thead>
      <tbody>
        {table.getRowModel().rows.map((row) => (
          <tr key={row.id} {...(rowProps?.(row.original) ?? {})}>
            {row.getVisibleCells().map((cell) => {
              const meta = cell.column.columnDef.meta;
              const content = flexRender(cell.column.columnDef.cell, cell.getContext());
              return meta?.rowHeader ? (
                <th key={cell.id} scope="row" className={meta.className}>
                  {content}
                </th>
              ) : (
                <td key={cell.id} className={meta?.className}>
                  {content}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
  return wrap ? <div className="table-wrap">{t}</div> : t;
}
