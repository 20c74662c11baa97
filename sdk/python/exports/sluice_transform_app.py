"""The component's exports for a transform (world `sluice:plugin/transform-frames`): the app
module componentize-py builds, wired to the `plugin` module of the project. Not for
editing by plugin authors; `build.sh` passes it to componentize-py."""

import plugin as _author
from wit_world import exports
from componentize_py_types import Err
from wit_world.imports.types import ConfigError, PluginError_Reject

from sluice_sdk import _runner

# Found at build time (componentize-py imports this module while building), so a project
# without a transform class fails to build rather than to start.
_PLUGIN = _runner.find_plugin(_author, "transform")


class FramesTransform(exports.FramesTransform):
    def init(self, config):
        e = _runner.init(_PLUGIN, config)
        if e is not None:
            raise Err(ConfigError(key=e.key, message=e.message))

    def transform(self, context, frames):
        try:
            return _runner.transform_batch(context, frames)
        except _runner.BatchError as e:
            raise Err(PluginError_Reject(e.reason)) from None
