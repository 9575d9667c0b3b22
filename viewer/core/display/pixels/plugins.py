"""pydicom's pixel decoder plugins, imported when a frame first needs one.

pydicom 3 registers its decoder and encoder plugins while ``pydicom.pixels``
loads, and ``import pydicom`` loads it (pydicom.config imports
pixel_data_handlers, which imports pydicom.pixels). Registering a plugin
imports its module (``CoderBase.add_plugin``: ``import_module``, then the
module's ``is_available(uid)``), and each of those modules imports the
package behind it at its top: gdcm, pylibjpeg with libjpeg, openjpeg and rle,
Pillow, pyjpegls. About 0.1 s of every start, and of every worker process,
spent even when no image is compressed.

:func:`defer`, called before pydicom is first imported (``viewer.core`` does
it), puts a stand-in in ``sys.modules`` for each plugin module that imports
such a package (pydicom's own RLE decoder and native encoder import nothing
and stay as they are). pydicom registers a stand-in as it would the module,
in the same place in its order: available when the package behind it is
installed (``importlib.util.find_spec``, which imports nothing), with a
function that imports the real module on its first call. :func:`load_for`
imports the real modules of every plugin registered for a transfer syntax
and registers them as pydicom would have (the same order, the real
``is_available``, the real missing dependencies); the viewer calls it before
it decides how to decode a frame of that syntax (viewer.core.display.pixels.decoders),
so its choice of plugin and its missing-decoder messages are those of the
real plugins. Code that calls pydicom directly still decodes: the stand-in's
function loads the real plugin, then calls it.

``pydicom.pixels.processing`` imports Pillow too (``PIL.ImageCms``, for
:func:`pydicom.pixels.apply_icc_profile` alone): it is imported with Pillow
hidden, then given stand-ins for ``PIL`` and ``ImageCms`` that import Pillow
when an ICC profile is first applied.

If pydicom was imported first (a test, a script), the plugins are already
loaded and nothing changes.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading
import types
from collections.abc import Callable

#: pydicom's plugin modules that import a third-party package at their top,
#: and that package's import name (the plugin is unavailable without it).
DEFERRED: dict[str, str] = {
    "pydicom.pixels.decoders.gdcm": "gdcm",
    "pydicom.pixels.decoders.pylibjpeg": "pylibjpeg",
    "pydicom.pixels.decoders.pillow": "PIL",
    "pydicom.pixels.decoders.pyjpegls": "jpeg_ls",
    "pydicom.pixels.encoders.gdcm": "gdcm",
    "pydicom.pixels.encoders.pylibjpeg": "pylibjpeg",
    "pydicom.pixels.encoders.pyjpegls": "jpeg_ls",
    # The pydicom 2 handlers, which pydicom.config imports and lists (used only
    # with ``pixel_array_options(use_v2_backend=True)``): stand-ins that import
    # the real module when anything of theirs is first read.
    "pydicom.pixel_data_handlers.gdcm_handler": "gdcm",
    "pydicom.pixel_data_handlers.pillow_handler": "PIL",
    "pydicom.pixel_data_handlers.jpeg_ls_handler": "jpeg_ls",
    "pydicom.pixel_data_handlers.pylibjpeg_handler": "pylibjpeg",
}

#: The names pydicom registers plugin functions under (add_plugin's import paths).
_FUNCTIONS = frozenset({"_decode_frame", "_encode_frame", "encode_pixel_data"})

_LOCK = threading.RLock()
_WHEN_LOADED: dict[str, list[Callable[[], None]]] = {}


def defer() -> bool:
    """Put the stand-ins in place, unless pydicom's plugins are already registered.

    Returns whether they are (now) in place. Call it before pydicom is imported.
    """
    with _LOCK:
        if any(isinstance(sys.modules.get(name), _StandIn) for name in DEFERRED):
            return True
        if "pydicom.pixels.decoders.base" in sys.modules or "pydicom.pixels.encoders.base" in sys.modules:
            return False  # registered already, with the real modules
        for name, package in DEFERRED.items():
            if name not in sys.modules:
                sys.modules[name] = (_PluginStandIn if _is_plugin(name) else _StandIn)(name, package)
        if "pydicom.pixels.processing" not in sys.modules and not any(isinstance(f, _PillowLater) for f in sys.meta_path):
            sys.meta_path.insert(0, _PillowLater())
        return True


def _is_plugin(module_name: str) -> bool:
    """A plugin module of pydicom's decoders or encoders (registered as pydicom loads)."""
    return module_name.startswith(("pydicom.pixels.decoders.", "pydicom.pixels.encoders."))


def is_loaded(module_name: str) -> bool:
    """Whether the real plugin module `module_name` has been imported."""
    module = sys.modules.get(module_name)
    return module is not None and not isinstance(module, _StandIn)


def imported_modules() -> list[str]:
    """The names in ``sys.modules`` of modules really imported (stand-ins left out), sorted."""
    return sorted(name for name, module in list(sys.modules.items()) if not isinstance(module, _StandIn))


def loaded_plugins() -> list[str]:
    """The deferred plugin modules imported so far (for the start-up report and tests)."""
    return sorted(name for name in DEFERRED if is_loaded(name))


def when_loaded(module_name: str, action: Callable[[], None]) -> None:
    """Run `action` once the real `module_name` is imported and registered (now, if it is)."""
    with _LOCK:
        if is_loaded(module_name):
            action()
        else:
            _WHEN_LOADED.setdefault(module_name, []).append(action)


def load_for(uid: str) -> None:
    """Import and register the real plugins pydicom has for decoding `uid` (once).

    Nothing to do for a native syntax or one pydicom has no decoder for.
    """
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        return
    plugins = getattr(decoder, "_available", None)
    if not isinstance(plugins, dict):
        return
    for function in list(plugins.values()):
        stand_in = getattr(function, "stand_in_for", None)
        if stand_in is not None:
            load(stand_in)


def load(module_name: str) -> types.ModuleType:
    """The real plugin module `module_name`, imported now if a stand-in held its place.

    Every decoder and encoder that registered the stand-in is given what
    pydicom would have registered from the real module, in the same place.
    """
    with _LOCK:
        stand_in = sys.modules.get(module_name)
        if not isinstance(stand_in, _StandIn):
            return importlib.import_module(module_name)
        del sys.modules[module_name]
        try:
            real = importlib.import_module(module_name)
        except BaseException:
            sys.modules[module_name] = stand_in
            raise
        parent, _, child = module_name.rpartition(".")
        setattr(sys.modules[parent], child, real)
        if _is_plugin(module_name):
            for coder in _coders(module_name):
                _register_real(coder, stand_in, real)
        actions = _WHEN_LOADED.pop(module_name, [])
    for action in actions:
        action()
    return real


def _coders(module_name: str) -> list:
    """pydicom's decoders (or encoders) for every transfer syntax, in pydicom's order."""
    if ".decoders." in module_name:
        from pydicom.pixels.decoders import base
    else:
        from pydicom.pixels.encoders import base
    table = getattr(base, "_PIXEL_DATA_DECODERS", None) or getattr(base, "_PIXEL_DATA_ENCODERS", None) or {}
    return [entry[0] for entry in table.values()]


def _register_real(coder, stand_in: _StandIn, real: types.ModuleType) -> None:
    """Replace `stand_in`'s functions in `coder` by `real`'s, as ``CoderBase.add_plugin`` would register them."""
    available = getattr(coder, "_available", None)
    if not isinstance(available, dict) or not any(getattr(f, "stand_in_for", None) == stand_in.__name__ for f in available.values()):
        return
    dependencies = getattr(real, "DECODER_DEPENDENCIES" if ".decoders." in stand_in.__name__ else "ENCODER_DEPENDENCIES", {})
    now_available, now_unavailable = {}, dict(coder._unavailable)
    for label, function in available.items():
        if getattr(function, "stand_in_for", None) != stand_in.__name__:
            now_available[label] = function
        elif real.is_available(coder.UID):
            now_available[label] = getattr(real, function.attribute)
        else:
            now_unavailable[label] = dependencies.get(coder.UID, ())
    # New dicts, bound at once: another thread may be reading the old ones.
    coder._available, coder._unavailable = now_available, now_unavailable


class _StandIn(types.ModuleType):
    """Holds a module's place in ``sys.modules``; the real module is imported when anything of it is read."""

    def __init__(self, name: str, package: str):
        super().__init__(name, f"Stand-in for {name} until it is needed (viewer.core.display.pixels.plugins).")
        self._package = package

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(load(self.__name__), name)


class _PluginStandIn(_StandIn):
    """A decoder or encoder plugin module's stand-in, registered by pydicom in its place."""

    def __init__(self, name: str, package: str):
        super().__init__(name, package)
        self._installed: bool | None = None
        self._functions: dict[str, Callable] = {}

    def is_available(self, uid: str) -> bool:
        """What pydicom registers the plugin by: is its package installed (nothing imported to tell)."""
        if self._installed is None:
            try:
                self._installed = importlib.util.find_spec(self._package) is not None
            except (ImportError, ValueError):
                self._installed = False
        return self._installed

    def __getattr__(self, name: str):
        if name in _FUNCTIONS:
            if name not in self._functions:
                self._functions[name] = _stand_in_function(self.__name__, name)
            return self._functions[name]
        # DECODER_DEPENDENCIES and the like: pydicom asks for them only when the
        # package is missing, so the real module then imports nothing heavy.
        return super().__getattr__(name)


def _stand_in_function(module_name: str, attribute: str) -> Callable:
    """A plugin function that imports the real plugin, then calls what pydicom now has registered."""
    label = module_name.rpartition(".")[2]  # pydicom labels its plugins by module name

    def call(src, runner, *args, **kwargs):
        load(module_name)
        uid = runner.transfer_syntax
        if ".decoders." in module_name:
            from pydicom.pixels import get_decoder as get_coder
        else:
            from pydicom.pixels import get_encoder as get_coder
        function = get_coder(uid)._available.get(label)
        if function is None or getattr(function, "stand_in_for", None):
            raise RuntimeError(f"the '{label}' plugin is not available for {getattr(uid, 'name', uid)}")
        return function(src, runner, *args, **kwargs)

    call.stand_in_for = module_name
    call.attribute = attribute
    call.__name__ = call.__qualname__ = attribute
    return call


class _PillowLater(importlib.abc.MetaPathFinder):
    """Imports ``pydicom.pixels.processing`` without Pillow, then hands it Pillow on first use.

    While that module runs, ``import PIL`` fails in the importing thread (its
    ``try: import PIL ... except ImportError`` then leaves the names unset);
    afterwards, if Pillow is installed, ``HAVE_PIL``, ``PIL`` and ``ImageCms``
    are set as the module would have set them, with stand-ins for the modules.
    """

    TARGET = "pydicom.pixels.processing"

    def __init__(self):
        self._hiding = threading.local()

    def find_spec(self, name, path=None, target=None):
        if getattr(self._hiding, "active", False) and name.split(".")[0] == "PIL":
            raise ModuleNotFoundError(f"Pillow is imported on first use (viewer.core.display.pixels.plugins): {name}", name=name)
        if name != self.TARGET:
            return None
        # Whoever would find it (the path finder, a bundle's importer), then wrapped.
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if finder is not self and hasattr(finder, "find_spec") else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _WithoutPillow(spec.loader, self)
                return spec
        return None


class _WithoutPillow(importlib.abc.Loader):
    """`loader`'s module executed with Pillow hidden (see :class:`_PillowLater`)."""

    def __init__(self, loader, finder: _PillowLater):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._finder._hiding.active = True
        try:
            self._loader.exec_module(module)
        finally:
            self._finder._hiding.active = False
            if self._finder in sys.meta_path:
                sys.meta_path.remove(self._finder)  # once is enough
        if not getattr(module, "HAVE_PIL", True) and importlib.util.find_spec("PIL") is not None:
            module.PIL = _ModuleLater("PIL")
            module.ImageCms = _ModuleLater("PIL.ImageCms")
            module.HAVE_PIL = True

    def __getattr__(self, name):  # get_source, get_filename, ... for tracebacks and inspect
        return getattr(self._loader, name)


class _ModuleLater:
    """A module imported when one of its attributes is first read (with PIL.ImageCms, as pydicom does)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        importlib.import_module("PIL.ImageCms")  # pydicom's import, which also imports PIL.Image
        return getattr(importlib.import_module(self._name), attribute)
