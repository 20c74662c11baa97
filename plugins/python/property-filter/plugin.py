"""`property-filter`: keeps messages whose user property equals a value, as the Rust
`plugins/property-filter` does; the filter of the per-language benchmark.

Configuration: `property` (required), `equals` (required), `missing` = `drop` (default) or
`keep` for messages without the property.
"""

import sluice_sdk as sluice


class PropertyFilter(sluice.Filter):
    def __init__(self, config):
        config.only(["property", "equals", "missing"])
        missing = config.get("missing", "drop")
        if missing not in ("drop", "keep"):
            raise sluice.ConfigError(f"expected `drop` or `keep`, got {missing!r}", key="missing")
        self.keep_missing = missing == "keep"
        self.property = config.require("property")
        self.equals = config.require("equals")

    def filter(self, msg):
        # `property_is` is `msg.property(name) == value` without decoding the value.
        if msg.property_is(self.property, self.equals):
            return True
        return self.keep_missing and not msg.has_property(self.property)
