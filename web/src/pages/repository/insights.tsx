import { useId } from 'react';
import { api } from '../../api/browser';
import type { PullHistory, Repository } from '../../api/types';
import { Loaded } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import { barChart } from './chart';
import { repositoryApi } from './paths';

const DAYS = 30;
const W = 720;
const H = 220;
const LEFT = 48;
const BOTTOM = 28;
const TOP = 10;

/** Pulls per day over 30 days: an SVG drawn with attributes and classes only (the CSP refuses inline style), and the same figures as a table. */
export function Insights({ repository: r }: { repository: Repository }) {
  const { t } = useI18n();
  const state = useLoad((signal) => api<PullHistory>(`${repositoryApi(r.namespace, r.name)}/pulls?days=${DAYS}`, { signal }), [r.namespace, r.name]);
  return (
    <section aria-labelledby="insights-heading">
      <h2 id="insights-heading">{t('insights.heading', { days: DAYS })}</h2>
      <Loaded state={state}>{(history) => <PullsChart history={history} />}</Loaded>
    </section>
  );
}

function PullsChart({ history }: { history: PullHistory }) {
  const { t, number, locale } = useI18n();
  const titleId = useId();
  const values = history.results.map((d) => d.pulls);
  const total = values.reduce((a, b) => a + b, 0);
  const plotW = W - LEFT - 8;
  const plotH = H - BOTTOM - TOP;
  const { bars, max, ticks } = barChart(values, plotW, plotH);
  const day = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', timeZone: 'UTC' });
  const label = (iso: string) => day.format(new Date(`${iso}T00:00:00Z`));
  return (
    <>
      <p className="lead">{t('insights.total', { n: total, pulls: number(total), days: history.days })}</p>
      <figure className="chart">
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={titleId} className="chart-svg" preserveAspectRatio="xMidYMid meet">
          <title id={titleId}>{t('insights.chartTitle', { pulls: number(total), days: history.days })}</title>
          <g transform={`translate(${LEFT} ${TOP})`}>
            {ticks.map((tick) => {
              const y = plotH - (tick / max) * plotH;
              return (
                <g key={tick}>
                  <line x1={0} x2={plotW} y1={y} y2={y} className="chart-grid" />
                  <text x={-6} y={y} dy="0.32em" textAnchor="end" className="chart-label">
                    {number(tick)}
                  </text>
                </g>
              );
            })}
            {bars.map((bar, index) => (
              <rect key={history.results[index]!.date} x={bar.x} y={bar.y} width={bar.width} height={Math.max(bar.height, 0)} className="chart-bar">
                <title>{`${label(history.results[index]!.date)}: ${t('repo.pullsCount', { n: values[index]!, count: number(values[index]!) })}`}</title>
              </rect>
            ))}
            {history.results.map((d, index) =>
              (history.results.length - 1 - index) % 7 === 0 ? (
                <text key={d.date} x={(index + 0.5) * (plotW / history.results.length)} y={plotH + 18} textAnchor="middle" className="chart-label">
                  {label(d.date)}
                </text>
              ) : null,
            )}
          </g>
        </svg>
      </figure>
      <details>
        <summary>{t('insights.asTable')}</summary>
        <table>
          <caption className="visually-hidden">{t('insights.heading', { days: history.days })}</caption>
          <thead>
            <tr>
              <th scope="col">{t('insights.day')}</th>
              <th scope="col">{t('repo.pulls')}</th>
            </tr>
          </thead>
          <tbody>
            {history.results.map((d) => (
              <tr key={d.date}>
                <td>{label(d.date)}</td>
                <td>{number(d.pulls)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}
