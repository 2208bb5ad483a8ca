/**
 * Image references and the name containerd's CRI resolves them to (ParseDockerRef), shared by the
 * pure table test (test/stacks/imageRef.test.ts) and the check against the real containerd
 * (test/components/imageCachePull.test.ts), which tags an image under each expected name and asks
 * the CRI for the input.
 *
 * Rows from distribution/reference v0.6.0 normalize_test.go (TestParseDockerRef,
 * TestValidateReferenceName, TestValidateRemoteName) and containerd v1.6.20
 * reference/docker/reference_test.go, plus the images this stack deploys.
 */
const D1 = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
const HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

export const NORMALIZED: ReadonlyArray<readonly [input: string, expected: string]> = [
    // TestParseDockerRef (distribution v0.6.0)
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:latest", "docker.io/library/busybox:latest"],
    [`busybox@${D1}`, `docker.io/library/busybox@${D1}`],
    ["library/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/library/busybox", "docker.io/library/busybox:latest"],
    ["docker.io/busybox:latest", "docker.io/library/busybox:latest"],
    ["library/busybox:latest", "docker.io/library/busybox:latest"],
    ["docker.io/library/busybox:latest", "docker.io/library/busybox:latest"],
    ["gcr.io/library/busybox", "gcr.io/library/busybox:latest"],
    [`gcr.io/library/busybox:latest@${D1}`, `gcr.io/library/busybox@${D1}`],
    // TestValidateReferenceName / TestValidateRemoteName valid names
    ["index.docker.io/debian", "docker.io/library/debian:latest"],
    ["index.docker.io/docker/docker", "docker.io/docker/docker:latest"],
    ["localhost/debian", "localhost/debian:latest"],
    ["localhost/library/debian", "localhost/library/debian:latest"],
    ["127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker:latest"],
    ["192.168.0.1", "docker.io/library/192.168.0.1:latest"],
    ["192.168.0.2:25000/debian", "192.168.0.2:25000/debian:latest"],
    [`docker.io/${HEX64}`, `docker.io/library/${HEX64}:latest`],
    ["docker---rules/docker", "docker.io/docker---rules/docker:latest"],
    ["dock__er/docker", "docker.io/dock__er/docker:latest"],
    ["d/docker", "docker.io/d/docker:latest"],
    // The images this stack deploys (stacks/schema.ts defaults, components/serving)
    ["vllm/vllm-openai:v0.33.0", "docker.io/vllm/vllm-openai:v0.33.0"],
    ["amazon/aws-cli:2.32.8", "docker.io/amazon/aws-cli:2.32.8"],
    ["nginxinc/nginx-unprivileged:1.29.3-alpine", "docker.io/nginxinc/nginx-unprivileged:1.29.3-alpine"],
    ["python:3.13.9-slim", "docker.io/library/python:3.13.9-slim"],
    [
        "valkey/valkey:9.1.2-alpine@sha256:48332870af354a799964c0012ae1194a0bf2bf894eb508f945810596dc2d8d11",
        "docker.io/valkey/valkey@sha256:48332870af354a799964c0012ae1194a0bf2bf894eb508f945810596dc2d8d11",
    ],
    [`123456789012.dkr.ecr.us-east-1.amazonaws.com/gpuserve-gateway@${D1}`, `123456789012.dkr.ecr.us-east-1.amazonaws.com/gpuserve-gateway@${D1}`],
    ["public.ecr.aws/neuron/pytorch-inference-vllm:0.9.1", "public.ecr.aws/neuron/pytorch-inference-vllm:0.9.1"],
    ["localhost:5000/foo/bar:1", "localhost:5000/foo/bar:1"],
];

/** Refused by normalizeImageRef; containerd 1.6.20's ParseDockerRef refuses each too. */
export const INVALID: readonly string[] = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    HEX64,
    "busybox:",
    "busybox@sha256:abc",
    `busybox@md5:${HEX64}`,
    "foo_bar.com:8080/baz",
    // A host for distribution v0.6.0 (containerd 2.x), a repository with upper case for containerd 1.6.20: refused.
    "Docker/docker",
    "LOCALDOMAIN/debian",
    // IPv6 hosts: distribution v0.6.0 only.
    "[fc00::1]:5000/docker",
];
