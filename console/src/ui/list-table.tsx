// A list page's table: the loading note, the error, an empty message, then one row per item under its column heads.
import type { ComponentChildren, VNode } from 'preact';
import { ErrorNote, Loading, type Loaded } from './common.tsx';

export function ListTable<T>(props: {
  list: Loaded<{ data: T[] }>;
  /** What is loading, as in "Loading {what}…". */
  what: string;
  /** Shown when the list is empty (nothing when absent). */
  empty?: ComponentChildren;
  id?: string;
  columns: string[];
  row: (item: T) => VNode;
}) {
  const { list } = props;
  return (
    <>
      {list.loading && !list.data ? <Loading what={props.what} /> : null}
      <ErrorNote problem={list.problem} />
      {list.data && list.data.data.length === 0 && props.empty ? <p class="muted">{props.empty}</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <div class="table-scroll">
          <table class="list" id={props.id}>
            <thead>
              <tr>
                {props.columns.map((c) => (
                  <th scope="col" key={c}>
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>{list.data.data.map(props.row)}</tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
