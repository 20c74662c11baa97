// json-filter: keeps messages whose JSON body has a configured field equal to a configured
// value, drops the others, and rejects bodies that are not JSON.
//
// Configuration:
// * `field` (required): the field, as a dotted path (`order.status`) or a JSON Pointer
//   (`/order/items/0/sku`).
// * `equals` (required): the value. Read as JSON when it parses (`42`, `true`, `"paid"`,
//   `{"a":1}`), else as a plain string (`paid`).
//
// JSON is read with the rules of Rust's serde_json (serde-json.js), so this plugin decides
// exactly as the Rust one: `42` and `42.0` differ, duplicate keys keep the last, and so on.

import { ConfigError, encodeUtf8, reject } from '#sluice';
import { JsonError, jsonEqual, jsonPointer, parseJson } from './serde-json.js';

let pointer;
let equals;

export function init(config) {
  config.only(['field', 'equals']);
  const field = config.require('field');
  if (field === '') {
    throw new ConfigError('`field` is empty; give a dotted path like `order.status`', 'field');
  }
  pointer = field.startsWith('/')
    ? field
    : field
        .split('.')
        .map((p) => `/${p.split('~').join('~0').split('/').join('~1')}`)
        .join('');
  const raw = config.require('equals');
  try {
    equals = parseJson(encodeUtf8(raw));
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    equals = raw;
  }
}

export function filter(msg) {
  let body;
  try {
    body = parseJson(msg.body);
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    if (msg.bodyLength === 0) throw reject('body is empty, not JSON');
    throw reject(`body is not JSON: ${e.message}`);
  }
  const v = jsonPointer(body, pointer);
  return v !== undefined && jsonEqual(v, equals);
}
