// Unit tests of {{name}}, under Node, through the batch loop the component runs:
// `node --test` (build once first: it puts the kit in .sluice-build/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFilter } from '#sluice/testing';
import * as plugin from './plugin.js';

test('keeps the messages whose property equals the value', () => {
  const out = runFilter(plugin, { property: 'region', equals: 'eu' }, [
    { properties: { region: 'eu' }, body: 'a' },
    { properties: { region: 'us' }, body: 'b' },
    { body: 'no property' },
  ]);
  assert.deepEqual(out, [{ outcome: 'unchanged' }, { outcome: 'drop' }, { outcome: 'drop' }]);
});

test('refuses a configuration without `equals`', () => {
  assert.throws(() => runFilter(plugin, { property: 'region' }, []), { key: 'equals' });
});
