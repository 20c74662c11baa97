// property-filter: keeps messages whose user property equals a value — the cheapest
// useful filter (drop bot traffic by a header, say), and the filter of the benchmarks.
//
// Configuration: `property` (required), `equals` (required), `missing` = `drop`
// (default) or `keep` for messages without the property.

import { ConfigError } from '#sluice';

let property;
let equals;
let keepMissing;

export function init(config) {
  config.only(['property', 'equals', 'missing']);
  const missing = config.get('missing') ?? 'drop';
  if (missing !== 'drop' && missing !== 'keep') {
    throw new ConfigError(`expected \`drop\` or \`keep\`, got ${JSON.stringify(missing)}`, 'missing');
  }
  keepMissing = missing === 'keep';
  property = config.require('property');
  equals = config.require('equals');
}

export function filter(msg) {
  const v = msg.property(property);
  return v === null ? keepMissing : v === equals;
}
