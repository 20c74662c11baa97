// Unit tests of {{name}}, under Node, through the batch loop the component runs:
// `node --test` (build once first: it puts the kit in .sluice-build/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTransform } from '#sluice/testing';
import * as plugin from './plugin.js';

test('adds processed-by and keeps the other properties', () => {
  const [out] = runTransform(plugin, {}, [{ properties: { region: 'eu' }, body: 'x' }]);
  assert.equal(out.outcome, 'replaced');
  assert.deepEqual(out.outputs, [{ properties: [['region', 'eu'], ['processed-by', '{{name}}']] }]);
});

test('takes another value from `by`', () => {
  const [out] = runTransform(plugin, { by: 'me' }, [{}]);
  assert.deepEqual(out.outputs[0].properties, [['processed-by', 'me']]);
});
