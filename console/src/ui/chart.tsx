// A line chart of per-epoch values (uPlot on a canvas), with the same numbers as a table for screen readers and
// keyboard users (and for anyone who wants the figures).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  /** One value per x (null: none at that epoch). */
  values: (number | null)[];
  /** A CSS colour; also told apart by dash pattern, not colour alone. */
  color: string;
  dash?: number[];
}

export function LineChart({ title, x, xLabel, series, yRange }: { title: string; x: number[]; xLabel: string; series: Series[]; yRange?: [number, number] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const width = Math.max(240, Math.min(640, el.clientWidth || 480));
    const opts: uPlot.Options = {
      width,
      height: 220,
      scales: { x: { time: false }, y: yRange ? { range: yRange } : {} },
      axes: [{ label: xLabel, incrs: [1, 2, 5, 10, 20, 50] }, {}],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      series: [{ label: xLabel }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, points: { show: true, size: 6 } }))],
    };
    const data: uPlot.AlignedData = [x, ...series.map((s) => s.values)];
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, el);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [JSON.stringify([x, series.map((s) => s.values), yRange])]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={host} class="chart-canvas" role="img" aria-label={`${title}: line chart by ${xLabel.toLowerCase()}; the figures are in the table below`} />
      <details>
        <summary>Figures</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">{xLabel}</th>
              {series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {x.map((xv, i) => (
              <tr key={xv}>
                <th scope="row">{xv}</th>
                {series.map((s) => (
                  <td class="num" key={s.label}>
                    {s.values[i] === null || s.values[i] === undefined ? '–' : s.values[i]!.toFixed(4)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
