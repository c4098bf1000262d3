"""examples/two-host-cluster, the seed's second example, through the API: the same program forms a
two-host cluster over TCP by hostname, reads its input from Kiln's S3 and writes its results
there, both as the custom image's command on the OCI runtime and as a ScriptProcessor-style
script on the host runtime; an unsupported `mode` fails the job with the program's message.
And a SKLearnProcessor job on the scikit-learn image of images/sklearn.

The OCI tests build the example image from Debian packages with scripts/build-images.sh the first
time (mmdebstrap: root and network to deb.debian.org, about two minutes; cached in
$KILN_IMAGE_CACHE, default ~/.cache/kiln/images, after that) and import it into each test's data
dir before its server starts. Without network or root they fail and say why; they never skip.
"""
import collections
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from kiln_harness import KILN, SKLEARN_IMAGE, SOURCE_DIR, KilnServer, KilnTestCase, wait_until

EXAMPLE = os.path.join(SOURCE_DIR, "examples", "two-host-cluster")
# The example's request and sample data, loaded under a name of its own.
_spec = importlib.util.spec_from_file_location("two_host_cluster_example",
                                               os.path.join(EXAMPLE, "run_with_boto3.py"))
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

BUILD_IMAGES = os.path.join(SOURCE_DIR, "scripts", "build-images.sh")
BUCKET = "examples"
INPUT = "cluster/input"


def example_words(text):
    """Lower-cased words, keeping inner apostrophes ("s'il") and accents ("café")."""
    return re.findall(r"\w+(?:'\w+)*", text.lower())


def expected_summary(hosts=("algo-1", "algo-2")):
    """What summary.json must say about example.SAMPLE, computed here independently."""
    keys = sorted(f"{INPUT}/{name}" for name in example.SAMPLE)
    per_file, words = {}, collections.Counter()
    for key in keys:
        text = example.SAMPLE[key.rsplit("/", 1)[1]]
        data = text.encode()
        per_file[key] = {"lines": text.count("\n"), "words": len(text.split()), "bytes": len(data)}
        words.update(example_words(text))
    top = sorted(words.items(), key=lambda item: (-item[1], item[0]))[:10]
    return {
        "per_file": per_file,
        "processed_by": {key: hosts[i % len(hosts)] for i, key in enumerate(keys)},
        "totals": {f: sum(c[f] for c in per_file.values()) for f in ("lines", "words", "bytes")},
        "top_words": [[w, n] for w, n in top],
    }


class ExampleCase(KilnTestCase):

    def start_server_with_image(self, recipe, server_args=()):
        """KilnTestCase.setUp, with the image of images/`recipe` imported into the data dir before
        the server starts, and bucket BUCKET."""
        self.tmp = tempfile.mkdtemp(prefix="kiln-it-")
        os.chmod(self.tmp, 0o755)
        self.files = os.path.join(self.tmp, "files")
        os.makedirs(self.files)
        data_dir = os.path.join(self.tmp, "data")
        try:
            import_example_image(data_dir, recipe=recipe)
            self.server = KilnServer(data_dir,
                                     ["--allow-file-root", self.files, *server_args]).start()
        except BaseException:  # tearDown does not run after a failed setUp
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.sm = self.server.client()
        self.s3().create_bucket(Bucket=BUCKET)

    def s3(self):
        if getattr(self, "_s3", None) is None:
            self._s3 = self.server.client("s3")
        return self._s3

    def read_json(self, key):
        return json.loads(self.s3().get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def assert_cluster_result(self, job_name, output_prefix):
        job = self.wait_for_status(job_name, timeout=300)
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        summary = self.read_json(output_prefix + "/summary.json")
        want = expected_summary()
        self.assertEqual(summary["hosts"], ["algo-1", "algo-2"])
        self.assertEqual(summary["files"], len(example.SAMPLE))
        for field in ("per_file", "processed_by", "totals", "top_words"):
            self.assertEqual(summary[field], want[field], field)
        # Both hosts did work; algo-2's part reached algo-1 over TCP, from another address.
        mine = {h: sorted(k for k, by in want["processed_by"].items() if by == h)
                for h in ("algo-1", "algo-2")}
        self.assertEqual(summary["parts"]["algo-1"]["keys"], mine["algo-1"])
        self.assertEqual(summary["parts"]["algo-2"]["keys"], mine["algo-2"])
        self.assertTrue(mine["algo-1"] and mine["algo-2"])
        self.assertEqual(summary["parts"]["algo-1"]["received"], "local")
        self.assertEqual(summary["parts"]["algo-2"]["received"], "tcp")
        self.assertNotIn(summary["parts"]["algo-2"]["peer"], (None, "127.0.0.1"))
        for host in ("algo-1", "algo-2"):
            part = self.read_json(f"{output_prefix}/parts/{host}.json")
            self.assertEqual(part["host"], host)
            self.assertEqual(part["keys"], mine[host])
        return summary

    def assert_mode_failure(self, job_name):
        job = self.wait_for_status(job_name, timeout=300)
        self.assertEqual(job["ProcessingJobStatus"], "Failed")
        self.assertTrue(job["FailureReason"].startswith("AlgorithmError:"), job["FailureReason"])
        self.assertIn("unsupported mode 'dask': this program supports mode python only",
                      job["FailureReason"])
        self.assertIn("algo-1:", job["FailureReason"])


class OciExampleTest(ExampleCase):
    """The seed's request exactly: the custom image's /opt/program/submit on two OCI instances."""

    def setUp(self):
        self.start_server_with_image("two-host-cluster")
        example.upload_sample(self.s3(), BUCKET, INPUT)

    def test_the_image_command_forms_a_two_host_cluster_through_kiln_s3(self):
        self.sm.create_processing_job(**example.job_request(
            "seed", image=example.IMAGE, bucket=BUCKET, input_prefix=INPUT,
            output_prefix="cluster/seed/output"))
        self.assert_cluster_result("seed", "cluster/seed/output")

    def test_run_with_boto3_prints_the_summary(self):
        env = self.server.env()
        result = subprocess.run(
            [sys.executable, os.path.join(EXAMPLE, "run_with_boto3.py"), "--bucket", BUCKET,
             "--job-name", "script"], env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        printed = json.loads(result.stdout)
        self.assertEqual(printed, self.read_json("two-host-cluster/script/output/summary.json"))
        self.assertEqual(printed["files"], len(example.SAMPLE))
        self.assertEqual(printed["parts"]["algo-2"]["received"], "tcp")

    def test_an_unsupported_mode_fails_with_the_programs_message(self):
        self.sm.create_processing_job(**example.job_request(
            "dask-mode", image=example.IMAGE, bucket=BUCKET, input_prefix=INPUT,
            output_prefix="cluster/dask/output", mode="dask"))
        self.assert_mode_failure("dask-mode")


class HostExampleTest(ExampleCase):
    """The same program as a ScriptProcessor job on the host runtime: the script is a code input."""

    def setUp(self):
        super().setUp()
        self.s3().create_bucket(Bucket=BUCKET)
        example.upload_sample(self.s3(), BUCKET, INPUT)

    def script_processor_request(self, job_name, mode="python"):
        """As ScriptProcessor(command=["python3"], image_uri=<scikit-learn>).run(code=submit)."""
        code = f"{job_name}/input/code/submit"
        self.s3().upload_file(os.path.join(EXAMPLE, "program", "submit"), BUCKET, code)
        request = example.job_request(
            job_name, image=SKLEARN_IMAGE, bucket=BUCKET, input_prefix=INPUT,
            output_prefix=f"cluster/{job_name}/output", mode=mode)
        request["AppSpecification"]["ContainerEntrypoint"] = [
            "python3", "/opt/ml/processing/input/code/submit"]
        request["ProcessingInputs"] = [{
            "InputName": "code", "AppManaged": False,
            "S3Input": {"S3Uri": f"s3://{BUCKET}/{code}",
                        "LocalPath": "/opt/ml/processing/input/code", "S3DataType": "S3Prefix",
                        "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}]
        return request

    def test_the_script_forms_a_two_host_cluster_on_the_host_runtime(self):
        self.sm.create_processing_job(**self.script_processor_request("script-host"))
        self.assert_cluster_result("script-host", "cluster/script-host/output")

    def test_an_unsupported_mode_fails_with_the_programs_message(self):
        self.sm.create_processing_job(**self.script_processor_request("dask-host", mode="dask"))
        self.assert_mode_failure("dask-host")


def oci_containers(runtime, prefix):
    """Containers of the OCI runtime `runc` or `crun` (its state under /run/kiln-oci) whose id
    starts with `prefix`."""
    root = os.path.join("/run/kiln-oci", runtime)
    return [c for c in os.listdir(root) if c.startswith(prefix)] if os.path.isdir(root) else []


class CrunTest(ExampleCase):
    """`kiln server --oci-runtime crun`: imported images run with crun instead of runc."""

    def setUp(self):
        self.start_server_with_image("two-host-cluster", server_args=["--oci-runtime", "crun"])

    def test_oci_jobs_run_with_crun(self):
        self.sm.create_processing_job(
            ProcessingJobName="with-crun", RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            ProcessingResources={"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
            AppSpecification={"ImageUri": example.IMAGE,
                              "ContainerEntrypoint": ["/bin/sh", "-c", "exec sleep 60"]})
        wait_until(lambda: oci_containers("crun", "with-crun-"), timeout=60,
                   what="the job's crun container")
        self.assertEqual(oci_containers("runc", "with-crun-"), [])
        self.sm.stop_processing_job(ProcessingJobName="with-crun")
        job = self.wait_for_status("with-crun", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Stopped", job.get("FailureReason"))
        self.assertEqual(oci_containers("crun", "with-crun-"), [])


# A SKLearnProcessor-style script: fits y = 2x + 1 with scikit-learn and pandas, and says which
# root filesystem it ran in (the source of the "/" mount: the imported image's root for OCI).
SKLEARN_SCRIPT = """\
import boto3, pandas, sklearn
from sklearn.linear_model import LinearRegression
frame = pandas.read_csv("/opt/ml/processing/input/data/points.csv")
model = LinearRegression().fit(frame[["x"]], frame["y"])
root = next(line.split()[3] for line in open("/proc/self/mountinfo") if line.split()[4] == "/")
with open("/opt/ml/processing/output/fit.txt", "w") as f:
    f.write(f"{model.coef_[0]:.3f} {model.intercept_:.3f}\\n{root}\\n")
"""


class SklearnImageTest(ExampleCase):
    """A SKLearnProcessor job (the SageMaker scikit-learn image URI) on the scikit-learn image of
    images/sklearn, which the catalog maps that URI to once it is imported."""

    def setUp(self):
        self.start_server_with_image("sklearn")

    def test_sklearn_processor_job_runs_on_the_imported_scikit_learn_image(self):
        points = "x,y\n" + "".join(f"{x},{2 * x + 1}\n" for x in range(10))
        self.s3().put_object(Bucket=BUCKET, Key="sk/input/points.csv", Body=points.encode())
        self.s3().put_object(Bucket=BUCKET, Key="sk/code/fit.py", Body=SKLEARN_SCRIPT.encode())
        self.sm.create_processing_job(
            ProcessingJobName="sklearn-fit",
            RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            ProcessingResources={"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
            AppSpecification={"ImageUri": SKLEARN_IMAGE, "ContainerEntrypoint": [
                "python3", "/opt/ml/processing/input/code/fit.py"]},
            ProcessingInputs=[
                {"InputName": "data", "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/sk/input", "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix", "S3InputMode": "File"}},
                {"InputName": "code", "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/sk/code/fit.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            ProcessingOutputConfig={"Outputs": [{"OutputName": "fit", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/sk/output", "LocalPath": "/opt/ml/processing/output",
                "S3UploadMode": "EndOfJob"}}]})
        job = self.wait_for_status("sklearn-fit", timeout=300)
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        fit, root = self.s3().get_object(Bucket=BUCKET, Key="sk/output/fit.txt")[
            "Body"].read().decode().splitlines()
        self.assertEqual(fit, "2.000 1.000")
        # <data>/images/<id>/rootfs, as seen from its filesystem's root.
        image_id = os.path.basename(os.path.dirname(root))
        self.assertTrue(root.endswith(f"/images/{image_id}/rootfs"), root)
        self.assertIn(image_id, os.listdir(os.path.join(self.server.data_dir, "images")))


_built = {}


def import_example_image(data_dir, recipe="two-host-cluster"):
    """scripts/build-images.sh `recipe` into `data_dir`: mmdebstrap the first time (cached by
    recipe and program content), then `kiln image import`. Fails, never skips, if it cannot."""
    problems = []
    if os.geteuid() != 0:
        problems.append("building the image needs root (mmdebstrap)")
    if not (shutil.which("runc") or shutil.which("crun")):
        problems.append("the OCI runtime needs runc or crun (scripts/setup.sh)")
    if problems:
        raise AssertionError("cannot run the OCI example: " + "; ".join(problems))
    result = subprocess.run(
        ["bash", BUILD_IMAGES, "--kiln", KILN, "--data-dir", data_dir, recipe],
        capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        raise AssertionError(
            f"scripts/build-images.sh {recipe} failed (it needs root and network access to "
            "deb.debian.org, or a cached tarball in ~/.cache/kiln/images); its output ends:\n" +
            (result.stdout + result.stderr)[-4000:])
    # Built at most once per run: every later import must find the cached tarball.
    if _built.get(recipe) and "cached" not in result.stderr:
        raise AssertionError("build-images.sh rebuilt an unchanged image:\n" +
                             result.stderr[-2000:])
    _built[recipe] = True


if __name__ == "__main__":
    unittest.main()
