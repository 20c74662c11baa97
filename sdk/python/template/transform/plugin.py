"""{{name}}: a Sluice transform plugin, in Python.

Adds the property `processed-by` = `{{name}}` to every message.

* Your logic goes in `transform()` below: it is called once per message. Return
  `sluice.UNCHANGED` to pass the message on as it is (the cheapest answer: nothing is sent
  back), `sluice.DROP` to emit nothing, a `sluice.Output(...)` to replace it, or a list of
  Outputs to emit several. An Output's fields (body, keys, tag, properties, destination)
  default to the input's. Raise `sluice.Reject("why")` / `sluice.Retry("why")` for
  failures; any other exception rejects that one message, with the exception as the
  reason.
* Settings arrive in `__init__` as a `sluice.Config`; raise `sluice.ConfigError` to
  refuse them. This one takes none.
* Import every module you need at the top of a file: the component holds only what was
  imported while it was built.
* Test natively: `PYTHONPATH=.sluice-build/kit python3 -m unittest` (after one build,
  which puts the kit there), see test_plugin.py.
* Build with `sluice plugin build`, try with `sluice plugin test .` (over the [test]
  input of sluice-plugin.toml).
"""

import sluice_sdk as sluice


class Plugin(sluice.Transform):
    def __init__(self, config: sluice.Config):
        config.only([])  # no settings: any key is a mistake

    def transform(self, msg: sluice.Message):
        out = msg.derive()  # an Output starting from the input's properties
        out.properties["processed-by"] = "{{name}}"
        return out
