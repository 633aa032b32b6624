// Dates, numbers and sizes in the reader's language, through Intl only: no hand-made formats.
// Pure functions of (value, locale[, now]) so that they are tested without a browser.

export type Locale = 'en' | 'fr';

const numberFormats = new Map<string, Intl.NumberFormat>();

function numberFormat(locale: Locale, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let format = numberFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, options);
    numberFormats.set(key, format);
  }
  return format;
}

export function formatNumber(value: number, locale: Locale): string {
  return numberFormat(locale, {}).format(value);
}

/** 1234567 -> "1.2M" / "1,2 M": for pull and star counts in lists. */
export function formatCompact(value: number, locale: Locale): string {
  return numberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 }).format(value);
}

// Decimal units (kB = 1000 B), as docker and Docker Hub print sizes; Intl knows these units by name.
const BYTE_UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte', 'petabyte'] as const;

/** 1536000 -> "1.5 MB" / "1,5 Mo". */
export function formatBytes(bytes: number, locale: Locale): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let unit = 0;
  let value = bytes;
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return numberFormat(locale, { style: 'unit', unit: BYTE_UNITS[unit], unitDisplay: 'short', maximumFractionDigits: digits }).format(value);
}

/** A point in time, in the reader's time zone: "Mar 4, 2026, 14:05" / "4 mars 2026, 14:05". */
export function formatDateTime(iso: string | null | undefined, locale: Locale, timeZone?: string): string {
  const date = parse(iso);
  if (!date) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', ...(timeZone ? { timeZone } : {}) }).format(date);
}

export function formatDate(iso: string | null | undefined, locale: Locale, timeZone?: string): string {
  const date = parse(iso);
  if (!date) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', ...(timeZone ? { timeZone } : {}) }).format(date);
}

const STEPS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
];

/** "3 hours ago" / "il y a 3 heures", "in 2 days" / "dans 2 jours"; `now` in milliseconds. */
export function formatRelative(iso: string | null | undefined, locale: Locale, now: number): string {
  const date = parse(iso);
  if (!date) return '—';
  let value = (date.getTime() - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(value) < size) {
      return new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(Math.round(value), unit);
    }
    value /= size;
  }
  return formatDate(iso, locale);
}

/** "3 of 5" style ratios are sentences (dictionaries); this is the percentage of a bar. */
export function percentOf(used: number, limit: number | null): number {
  if (limit === null || limit <= 0) return 0;
  return Math.min(100, Math.round((used / limit) * 100));
}

function parse(iso: string | null | undefined): Date | undefined {
  if (!iso) return undefined;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
