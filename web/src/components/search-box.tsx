import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { api } from '../api/browser';
import type { Suggestion } from '../api/types';
import { useI18n } from '../i18n/i18n';
import { displayName, repositoryPath } from '../pages/repository/paths';

const DEBOUNCE_MS = 120;

/**
 * The header's search: a combobox (WAI-ARIA pattern) that suggests repository names as one
 * types; arrows move through them, Enter opens the chosen one or searches, Escape closes.
 */
export function SearchBox() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const id = useId();
  const listId = `${id}-list`;
  const [query, setQuery] = useState(() => new URLSearchParams(location.search).get('q') ?? '');
  const [suggestions, setSuggestions] = useState<Suggestion[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const typed = useRef(false);

  // the box shows the search of the page (after back/forward too)
  useEffect(() => {
    if (location.pathname === '/search') setQuery(new URLSearchParams(location.search).get('q') ?? '');
    setOpen(false);
  }, [location.pathname, location.search]);

  useEffect(() => {
    if (!typed.current) return;
    const q = query.trim();
    if (q === '') {
      setSuggestions([]);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api<{ results: Suggestion[] }>(`/search/suggest?q=${encodeURIComponent(q)}`, { signal: controller.signal }).then(
        (found) => {
          setSuggestions(found.results);
          setActive(-1);
          setOpen(true);
        },
        () => setSuggestions([]), // suggestions are a help: the search itself says what failed
      );
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [query]);

  const go = (s: Suggestion) => {
    setOpen(false);
    setQuery('');
    setSuggestions([]);
    navigate(repositoryPath(s.namespace, s.name));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const chosen = open ? suggestions[active] : undefined;
    if (chosen) return go(chosen);
    setOpen(false);
    navigate(`/search?q=${encodeURIComponent(query.trim())}`);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'ArrowDown' && suggestions.length > 0) {
      event.preventDefault();
      setOpen(true);
      setActive((a) => (a + 1) % suggestions.length);
    } else if (event.key === 'ArrowUp' && suggestions.length > 0) {
      event.preventDefault();
      setOpen(true);
      setActive((a) => (a <= 0 ? suggestions.length - 1 : a - 1));
    } else if (event.key === 'Escape') {
      setOpen(false);
      setActive(-1);
    }
  };
  const expanded = open && suggestions.length > 0;
  return (
    <form role="search" className="search" onSubmit={submit}>
      <label htmlFor={id} className="visually-hidden">
        {t('shell.search')}
      </label>
      <input
        id={id}
        type="search"
        name="q"
        role="combobox"
        autoComplete="off"
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        value={query}
        onChange={(e) => {
          typed.current = true;
          setQuery(e.target.value);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setOpen(false)}
        onFocus={() => suggestions.length > 0 && query.trim() && setOpen(true)}
        placeholder={t('shell.searchPlaceholder')}
      />
      <ul id={listId} role="listbox" aria-label={t('shell.suggestions')} className="suggestions" hidden={!expanded}>
        {suggestions.map((s, index) => (
          <li
            key={`${s.namespace}/${s.name}`}
            id={`${listId}-${index}`}
            role="option"
            aria-selected={index === active}
            className={index === active ? 'active' : undefined}
            // mousedown, not click: the input's blur would close the list before a click lands
            onMouseDown={(e) => {
              e.preventDefault();
              go(s);
            }}
          >
            {displayName(s.namespace, s.name)}
            {s.is_official && <span className="badge badge-official">{t('badge.official')}</span>}
            {s.is_verified_publisher && <span className="badge badge-verified">{t('badge.verified')}</span>}
          </li>
        ))}
      </ul>
    </form>
  );
}
