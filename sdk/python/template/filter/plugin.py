"""{{name}}: a Sluice filter plugin, in Python.

Keeps the messages whose user property named by the `property` setting equals the `equals`
setting, and drops the others.

* Your logic goes in `filter()` below: it is called once per message. Return True to keep
  the message, False to drop it; raise `sluice.Reject("why")` for a message that can never
  pass, `sluice.Retry("why")` for a failure worth retrying. Any other exception rejects
  that one message, with the exception as the reason.
* Settings arrive in `__init__` as a `sluice.Config` (string pairs from the stage's
  `config` table); raise `sluice.ConfigError` to refuse them.
* Import every module you need at the top of a file: the component holds only what was
  imported while it was built.
* Test natively: `PYTHONPATH=.sluice-build/kit python3 -m unittest` (after one build,
  which puts the kit there), see test_plugin.py.
* Build with `sluice plugin build`, try with `sluice plugin test .` (the input and the
  settings are the [test] table of sluice-plugin.toml).
"""

import sluice_sdk as sluice


class Plugin(sluice.Filter):
    def __init__(self, config: sluice.Config):
        config.only(["property", "equals"])  # a typo in the configuration is an error
        self.property = config.require("property")  # ConfigError when missing
        self.equals = config.require("equals")

    def filter(self, msg: sluice.Message) -> bool:
        # Also at hand: msg.body (bytes), msg.body_str(), msg.property(name),
        # msg.properties (dict), msg.keys, msg.tag, msg.queue_offset, msg.topic, ...
        # `property_is` is `msg.property(name) == value` without decoding the value.
        return msg.property_is(self.property, self.equals)
