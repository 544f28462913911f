"""The loss zoo: canonical losses (zoo.losses) and each classic library's API
(zoo.tensorlayer, zoo.tf, zoo.mxnet, zoo.tflearn, zoo.axon, zoo.torch), plus zoo.catalog().
Submodules load on first use (zoo.torch never imports PyTorch itself)."""
import importlib

_SUBMODULES = ("losses", "reduction", "tensorlayer", "tf", "mxnet", "tflearn", "axon", "torch",
               "inventory", "dual", "options")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"zoo.{name}")
    if name == "catalog":
        return importlib.import_module("zoo.inventory").catalog
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
