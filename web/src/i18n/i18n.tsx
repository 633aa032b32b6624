import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { en, type Messages } from './en';
import { fr } from './fr';
import { formatBytes, formatCompact, formatDate, formatDateTime, formatNumber, formatRelative, type Locale } from './format';

export const DICTIONARIES: Record<Locale, Messages> = { en, fr };
export const LANGUAGES: Locale[] = ['en', 'fr'];
const STORAGE_KEY = 'pier.language';

type StringKey = { [K in keyof Messages]: Messages[K] extends string ? K : never }[keyof Messages];
type FunctionKey = Exclude<keyof Messages, StringKey>;
type ParamsOf<K extends FunctionKey> = Messages[K] extends (params: infer P) => string ? P : never;

export interface Translate {
  <K extends StringKey>(key: K): string;
  <K extends FunctionKey>(key: K, params: ParamsOf<K>): string;
}

export function translator(locale: Locale): Translate {
  const messages = DICTIONARIES[locale] as Record<string, string | ((p: unknown) => string)>;
  return ((key: string, params?: unknown) => {
    const message = messages[key];
    return typeof message === 'function' ? message(params) : message!;
  }) as Translate;
}

/** The remembered choice, else the first of the browser's languages that Pier speaks, else English. */
export function initialLocale(stored: string | null, browser: readonly string[]): Locale {
  if (stored === 'en' || stored === 'fr') return stored;
  for (const language of browser) {
    const base = language.toLowerCase().split('-')[0];
    if (base === 'en' || base === 'fr') return base;
  }
  return 'en';
}

export interface I18n {
  locale: Locale;
  setLocale(locale: Locale): void;
  t: Translate;
  number(value: number): string;
  compact(value: number): string;
  bytes(value: number): string;
  date(iso: string | null | undefined): string;
  dateTime(iso: string | null | undefined): string;
  relative(iso: string | null | undefined): string;
}

const I18nContext = createContext<I18n | undefined>(undefined);

function readStored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: the browser's language then
  }
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(() => initialLocale(readStored(), navigator.languages ?? [navigator.language]));
  const setLocale = useCallback((next: Locale) => {
    setLocaleState(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered, still switched
    }
  }, []);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const value = useMemo<I18n>(
    () => ({
      locale,
      setLocale,
      t: translator(locale),
      number: (v) => formatNumber(v, locale),
      compact: (v) => formatCompact(v, locale),
      bytes: (v) => formatBytes(v, locale),
      date: (iso) => formatDate(iso, locale),
      dateTime: (iso) => formatDateTime(iso, locale),
      relative: (iso) => formatRelative(iso, locale, Date.now()),
    }),
    [locale, setLocale],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}
