import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { en } from './en';
import { fr } from './fr';
import { initialLocale, translator } from './i18n';

describe('dictionaries', () => {
  it('have the same keys, of the same kind, none empty (tsc checks this too; this guards casts)', () => {
    assert.deepEqual(Object.keys(fr).sort(), Object.keys(en).sort());
    for (const key of Object.keys(en) as Array<keyof typeof en>) {
      assert.equal(typeof fr[key], typeof en[key], key);
      if (typeof en[key] === 'string') {
        assert.ok((en[key] as string).trim(), `en ${key} is empty`);
        assert.ok((fr[key] as string).trim(), `fr ${key} is empty`);
      }
    }
  });

  it('translates with parameters, per language', () => {
    assert.equal(translator('en')('tokens.days', { days: 30 }), '30 days');
    assert.equal(translator('fr')('tokens.days', { days: 30 }), '30 jours');
    assert.equal(translator('fr')('shell.signIn'), 'Se connecter');
  });

  it('chooses the remembered language, else the browser\'s first known one, else English', () => {
    assert.equal(initialLocale('fr', ['en-US']), 'fr');
    assert.equal(initialLocale(null, ['de-DE', 'fr-CA', 'en']), 'fr');
    assert.equal(initialLocale(null, ['en-GB', 'fr']), 'en');
    assert.equal(initialLocale('xx', ['de']), 'en');
    assert.equal(initialLocale(null, []), 'en');
  });
});
