// passthrough: passes every message on unchanged. The smallest transform, and the measure
// of what the plugin boundary and the kit's batch loop cost.

import { unchanged } from '#sluice';

export function init(config) {
  config.only([]);
}

export function transform(_msg) {
  return unchanged;
}
