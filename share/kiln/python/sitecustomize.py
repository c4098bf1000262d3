"""Kiln's sitecustomize for processing jobs (spec §8.17).

Kiln puts this directory first on a job's PYTHONPATH. botocore learned to read AWS_ENDPOINT_URL
and AWS_ENDPOINT_URL_<SERVICE> only in 1.31; for older versions (Debian 12 ships 1.29) this makes
clients created without an endpoint_url use them, so an unchanged `boto3.client("s3")` reaches the
store the job's data lives in. botocore is patched lazily, when it is first imported, so Python
programs that never use it pay nothing. Any other sitecustomize on the path still runs.

It also makes pip in a job behave as in a SageMaker container, for the FrameworkProcessor's
runproc.sh (`pip uninstall --yes typing`, `python -m pip install -r requirements.txt`): on an
externally managed Python that the job cannot write (Debian's on Kiln's host runtime, PEP 668),
pip installs into a per-instance user site under /tmp that every Python in the job then sees; and
when an install fails because the job has no network (EnableNetworkIsolation) or the package
index is unreachable, one line says so on stderr and in /opt/ml/output/message, so that the job's
FailureReason says it too.
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


class _AfterImportHook:
    """Finds module `name` like the normal path finder, then calls `patch` once it has loaded."""

    def __init__(self, name, patch):
        self._name = name
        self._patch = patch

    def find_spec(self, name, path=None, target=None):
        if name != self._name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        real_exec = spec.loader.exec_module
        patch = self._patch

        def exec_module(module):
            real_exec(module)
            try:
                patch(module)
            except Exception:  # noqa: BLE001 - never break the import itself
                pass

        spec.loader.exec_module = exec_module
        return spec


def _patch_after_import(name, patch):
    if name in sys.modules:
        patch(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImportHook(name, patch))


# --- pip ------------------------------------------------------------------------------------

_USER_BASE = "/tmp/.kiln-python-user"  # /tmp is private to each instance
_OPTIONS_WITHOUT_USER = ("--target", "-t", "--prefix", "--root", "--user", "--no-user")
_DEFAULT_INDEX = "https://pypi.org/simple"


def _externally_managed():
    """True for a system Python that refuses pip (PEP 668) and that this process cannot write.

    Avoids sysconfig: it caches the user base on first use, before PYTHONUSERBASE is set."""
    import site
    if sys.prefix != sys.base_prefix:  # a virtual environment
        return False
    marker = os.path.join(os.path.dirname(os.__file__), "EXTERNALLY-MANAGED")
    return os.path.isfile(marker) and not any(os.access(p, os.W_OK)
                                              for p in site.getsitepackages())


def _use_private_user_site():
    """Points the user site at _USER_BASE when the home directory cannot hold one."""
    import site
    if not site.ENABLE_USER_SITE or "PYTHONUSERBASE" in os.environ or not _externally_managed():
        return
    home = os.path.expanduser("~")
    if os.path.isdir(home) and os.access(home, os.W_OK):
        return  # the usual ~/.local works
    os.environ["PYTHONUSERBASE"] = _USER_BASE
    site.USER_BASE = None
    site.USER_SITE = None
    user_site = site.getusersitepackages()
    if os.path.isdir(user_site) and user_site not in sys.path:
        before = list(sys.path)
        site.addsitedir(user_site)
        added = [p for p in sys.path if p not in before]
        # Ahead of the system's packages, where a normal user site sits.
        first_system = next((i for i, p in enumerate(before)
                             if p.endswith(("site-packages", "dist-packages"))), len(before))
        sys.path[:] = before[:first_system] + added + before[first_system:]


def _pip_command(argv):
    return next((a for a in argv if not a.startswith("-")), "")


def _index_url(argv):
    for i, arg in enumerate(argv):
        if arg in ("-i", "--index-url") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--index-url="):
            return arg.split("=", 1)[1]
    return os.environ.get("PIP_INDEX_URL") or _DEFAULT_INDEX


def _network_problem(index_url):
    """Why pip cannot reach `index_url`, or None if it can (or that cannot be told)."""
    import socket
    import urllib.parse
    try:
        interfaces = [name for _, name in socket.if_nameindex()]
    except OSError:
        interfaces = None
    # Jobs on Kiln's private networks have loopback only too, but they are told Kiln's endpoint.
    isolated = not os.environ.get("AWS_ENDPOINT_URL")
    if isolated and interfaces is not None and all(name == "lo" for name in interfaces):
        return ("this job has no network (it runs with EnableNetworkIsolation=true), so pip "
                f"cannot download from {index_url}")
    url = urllib.parse.urlsplit(index_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        return None
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
        socket.create_connection((url.hostname, port), timeout=5).close()
    except (OSError, ValueError) as error:
        return (f"the package index {index_url} cannot be reached from this job ({error}); "
                "jobs reach only their own instances and Kiln unless the server runs with "
                "--job-network host (and then the machine must be online)")
    return None


def _explain_pip_failure(argv):
    problem = _network_problem(_index_url(argv))
    if problem is None:
        return
    message = (f"kiln: pip {_pip_command(argv)} failed, and {problem}. Install the packages into "
               "the image, or ship wheels with the code and list their paths in requirements.txt.")
    print(message, file=sys.stderr, flush=True)
    try:
        with open("/opt/ml/output/message", "a", encoding="utf-8") as f:
            f.write(message + "\n")
    except OSError:
        pass


def _patch_pip_main(module):
    original = module.main
    if getattr(original, "_kiln_patched", False):
        return

    def main(args=None):
        argv = list(sys.argv[1:] if args is None else args)
        command = _pip_command(argv)
        if command in ("install", "uninstall") and _externally_managed():
            os.environ.setdefault("PIP_BREAK_SYSTEM_PACKAGES", "1")
            if command == "install" and not any(a.split("=", 1)[0] in _OPTIONS_WITHOUT_USER
                                                for a in argv):
                os.environ.setdefault("PIP_USER", "1")
            if os.environ.get("PYTHONUSERBASE") == _USER_BASE:
                os.environ.setdefault("PIP_CACHE_DIR", "/tmp/.kiln-pip-cache")
        status = original(args)
        if status and command in ("install", "download", "wheel"):
            try:
                _explain_pip_failure(argv)
            except Exception:  # noqa: BLE001 - pip's own error stands
                pass
        return status

    main._kiln_patched = True
    main.__wrapped__ = original
    module.main = main


def _install():
    _patch_after_import("botocore.session", _patch_session_module)
    _patch_after_import("pip._internal.cli.main", _patch_pip_main)
    try:
        _use_private_user_site()
    except Exception:  # noqa: BLE001 - never stop the job's program
        pass


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
