import { formatUsd, type Nano } from '../domain/money';
import { DAY_MS } from '../domain/time';

/**
 * Charts drawn as SVG on the server from numbers the page already has: no script, no request.
 * Colours come from the stylesheet's classes (presentation, not inline style), so they follow the
 * light or dark scheme. Amounts are shown as the exact decimal strings; only the geometry is a float.
 */

const toFloat = (nano: Nano) => Number(nano) / 1e9;

export interface BudgetBar {
  name: string;
  spentNano: Nano;
  budgetNano: Nano | null;
}

/** One horizontal bar per tenant: spend in the current period against its budget (the track). */
export function BudgetBars(props: { bars: BudgetBar[] }) {
  const row = 44;
  const width = 440;
  const labelWidth = 130;
  const trackWidth = width - labelWidth - 10;
  const height = props.bars.length * row + 6;
  const summary = props.bars.map((b) => `${b.name}: ${formatUsd(b.spentNano)} of ${b.budgetNano === null ? 'no budget' : formatUsd(b.budgetNano)} USD`).join('; ');
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="budget-bars-title">
      <title id="budget-bars-title">{`Spend this period against budget. ${summary}`}</title>
      {props.bars.map((b, i) => {
        const y = i * row + 4;
        const share = b.budgetNano === null || b.budgetNano === 0n ? (b.spentNano > 0n ? 1 : 0) : Math.min(1, toFloat(b.spentNano) / toFloat(b.budgetNano));
        const over = b.budgetNano !== null && b.spentNano > b.budgetNano;
        const caption = `${formatUsd(b.spentNano)} / ${b.budgetNano === null ? 'no budget' : `${formatUsd(b.budgetNano)} USD`}`;
        return (
          <g>
            <text class="name" x="0" y={y + 13}>
              {b.name.length > 15 ? `${b.name.slice(0, 14)}…` : b.name}
            </text>
            <rect class="track" x={labelWidth} y={y} width={trackWidth} height="16" rx="4" />
            <rect class={over ? 'over' : 'bar'} x={labelWidth} y={y} width={Math.max(share > 0 ? 3 : 0, share * trackWidth).toFixed(1)} height="16" rx="4" />
            <text x={labelWidth} y={y + 33}>
              {caption}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

export interface DaySpend {
  /** `YYYY-MM-DD` */
  day: string;
  costNano: Nano;
}

/** Spend per UTC day over `days` days from `from`, as columns; a day with no generation is an empty column. */
export function DailySpend(props: { from: string; days: number; spend: DaySpend[] }) {
  const width = 440;
  const height = 220;
  const left = 8;
  const bottom = 22;
  const plotHeight = height - bottom - 30; // the top 30 units hold the scale's label, clear of any bar
  const start = Date.parse(`${props.from}T00:00:00Z`);
  const byDay = new Map(props.spend.map((d) => [d.day, d.costNano]));
  const columns = Array.from({ length: props.days }, (_, i) => {
    const day = new Date(start + i * DAY_MS).toISOString().slice(0, 10);
    return { day, costNano: byDay.get(day) ?? 0n };
  });
  const max = columns.reduce((m, d) => (d.costNano > m ? d.costNano : m), 0n);
  const step = (width - left) / props.days;
  const total = columns.reduce((t, d) => t + d.costNano, 0n);
  const first = columns[0]?.day ?? props.from;
  const last = columns[columns.length - 1]?.day ?? props.from;
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="daily-spend-title">
      <title id="daily-spend-title">{`Spend per day from ${first} to ${last}: ${formatUsd(total)} USD in all, at most ${formatUsd(max)} USD in a day.`}</title>
      <line class="axis" x1={left} y1={height - bottom} x2={width} y2={height - bottom} />
            <text x={left} y="16">{max === 0n ? 'no spend' : `max ${formatUsd(max)} USD / day`}</text>
      {columns.map((d, i) => {
        const h = max === 0n ? 0 : (toFloat(d.costNano) / toFloat(max)) * plotHeight;
        return <rect class="bar" x={(left + i * step + 1).toFixed(1)} y={(height - bottom - h).toFixed(1)} width={Math.max(1, step - 2).toFixed(1)} height={h.toFixed(1)} />;
      })}
      <text x={left} y={height - 4}>
        {first}
      </text>
      <text x={width} y={height - 4} text-anchor="end">
        {last}
      </text>
    </svg>
  );
}
