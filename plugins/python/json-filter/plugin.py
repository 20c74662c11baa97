"""`json-filter`: keeps messages whose JSON body has a configured field equal to a
configured value, drops the others, and rejects bodies that are not JSON; the same answers
as the Rust `plugins/json-filter`, JSON read as serde_json reads it (`strict_json`).

Configuration:
* `field` (required): the field, as a dotted path (`order.status`) or a JSON Pointer
  (`/order/items/0/sku`).
* `equals` (required): the value. Read as JSON when it parses (`42`, `true`, `"paid"`,
  `{"a":1}`), else as a plain string (`paid`).
"""

import sluice_sdk as sluice
import strict_json


class JsonFilter(sluice.Filter):
    def __init__(self, config):
        config.only(["field", "equals"])
        field = config.require("field")
        if not field:
            raise sluice.ConfigError("`field` is empty; give a dotted path like `order.status`", key="field")
        if field.startswith("/"):
            self.pointer = field
        else:
            self.pointer = "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in field.split("."))
        raw = config.require("equals")
        try:
            self.equals = strict_json.loads(raw)
        except strict_json.JsonError:
            self.equals = raw

    def filter(self, msg):
        body = msg.body
        if not body:
            raise sluice.Reject("body is empty, not JSON")
        try:
            doc = strict_json.loads(body)
        except strict_json.JsonError as e:
            raise sluice.Reject(f"body is not JSON: {e}") from None
        found, value = strict_json.lookup(doc, self.pointer)
        return found and strict_json.same(value, self.equals)
