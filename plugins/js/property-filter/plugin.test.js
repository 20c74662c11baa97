// `node --test` in this directory (after one build, which puts the kit in .sluice-build/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFilter } from '#sluice/testing';
import * as plugin from './plugin.js';

const msgs = [{ properties: { region: 'eu' } }, { properties: { region: 'us' } }, {}];

test('filters on the property', () => {
  const out = runFilter(plugin, { property: 'region', equals: 'eu' }, msgs);
  assert.deepEqual(out.map((o) => o.outcome), ['unchanged', 'drop', 'drop']);
  const keep = runFilter(plugin, { property: 'region', equals: 'eu', missing: 'keep' }, msgs);
  assert.equal(keep[2].outcome, 'unchanged');
  assert.throws(() => runFilter(plugin, { property: 'region', equals: 'eu', missing: 'maybe' }, []), { key: 'missing' });
});
