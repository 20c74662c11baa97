"""`passthrough`: passes every message on unchanged, as the Rust `plugins/passthrough`
does. The smallest transform, and the measure of what the boundary and the SDK's batch
loop cost in Python."""

import sluice_sdk as sluice


class Passthrough(sluice.Transform):
    def __init__(self, config):
        config.only([])

    def transform(self, msg):
        return sluice.UNCHANGED
