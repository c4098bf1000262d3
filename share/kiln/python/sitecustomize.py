"""Kiln's sitecustomize for processing jobs (spec §8.17).

Kiln puts this directory first on a job's PYTHONPATH. botocore learned to read AWS_ENDPOINT_URL
and AWS_ENDPOINT_URL_<SERVICE> only in 1.31; for older versions (Debian 12 ships 1.29) this makes
clients created without an endpoint_url use them, so an unchanged `boto3.client("s3")` reaches the
store the job's data lives in. botocore is patched lazily, when it is first imported, so Python
programs that never use it pay nothing. Any other sitecustomize on the path still runs.
"""
import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _version_tuple(text):
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _configured_endpoint(session, service_name):
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    names = []
    try:
        # botocore >= 1.31 names the variable after the service id ("CloudWatch Logs" →
        # CLOUDWATCH_LOGS); fall back to the client name when the model cannot be loaded.
        service_id = str(session.get_service_model(service_name).service_id)
        names.append(service_id.replace(" ", "_").upper())
    except Exception:  # noqa: BLE001 - any failure just means "use the client name"
        pass
    names.append(service_name.replace("-", "_").upper())
    for name in names:
        value = os.environ.get("AWS_ENDPOINT_URL_" + name)
        if value:
            return value
    return os.environ.get("AWS_ENDPOINT_URL") or None


def _patch_session_module(module):
    try:
        import botocore
        if _version_tuple(botocore.__version__) >= (1, 31):
            return
    except Exception:  # noqa: BLE001
        return
    import inspect
    session_class = module.Session
    original = session_class.create_client
    if getattr(original, "_kiln_patched", False):
        return
    signature = inspect.signature(original)

    def create_client(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)
        if bound.arguments.get("endpoint_url") is None:
            service_name = bound.arguments.get("service_name")
            if isinstance(service_name, str):
                endpoint = _configured_endpoint(self, service_name)
                if endpoint:
                    bound.arguments["endpoint_url"] = endpoint
        return original(*bound.args, **bound.kwargs)

    create_client._kiln_patched = True
    create_client.__wrapped__ = original
    session_class.create_client = create_client


class _BotocoreSessionHook:
    """Finds botocore.session like the normal path finder, then patches it once it has loaded."""

    def find_spec(self, name, path=None, target=None):
        if name != "botocore.session":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        real_exec = spec.loader.exec_module

        def exec_module(module):
            real_exec(module)
            try:
                _patch_session_module(module)
            except Exception:  # noqa: BLE001 - never break the import itself
                pass

        spec.loader.exec_module = exec_module
        return spec


def _install():
    if "botocore.session" in sys.modules:
        _patch_session_module(sys.modules["botocore.session"])
    else:
        sys.meta_path.insert(0, _BotocoreSessionHook())


def _chain_next_sitecustomize():
    """Runs the sitecustomize this one shadows (Debian ships one in /etc/python3.x)."""
    for entry in sys.path:
        try:
            if not entry or os.path.abspath(entry) == _HERE:
                continue
        except Exception:  # noqa: BLE001
            continue
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_kiln_shadowed_sitecustomize", candidate)
            if spec is None or spec.loader is None:
                return
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception:  # noqa: BLE001 - a broken one must not stop the job's program
                pass
            return


_install()
_chain_next_sitecustomize()
