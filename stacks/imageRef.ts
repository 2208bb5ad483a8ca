/**
 * Container image references in the one form containerd stores and the kubelet asks for.
 *
 * The kubelet hands a pod's `image` to the CRI, and containerd's CRI plugin looks it up under
 * `ParseDockerRef(image)` (containerd v1.6.20 pkg/cri/server/helpers.go localResolve; v2.1
 * internal/cri/server/images/service.go, the containerd of Bottlerocket aws-k8s-1.35-nvidia).
 * `ctr images pull` does no such thing: it stores the image under the string it was given and
 * takes the first path part as the registry (cmd/ctr/commands/images/pull.go), so a cache built
 * with `vllm/vllm-openai:v0.33.0` is never found and `vllm` is dialled as a host. Every image the
 * stack emits (pod specs, the image-cache build) goes through normalizeImageRef, so the name
 * cached and the name asked for are the same string.
 *
 * Rules (my implementation of them; the code is not copied): containerd v1.6.20
 * reference/docker/reference.go (grammar, ParseNormalizedNamed, splitDockerDomain, ParseDockerRef,
 * TagNameOnly) and distribution/reference v0.6.0 normalize.go + regexp.go (used by containerd 2.x):
 * - a first path part is a registry host only if it contains "." or ":" or is "localhost";
 *   otherwise the host is docker.io, and a one-part Docker Hub name gets "library/";
 *   "index.docker.io" is docker.io;
 * - the repository path is lower case (the host may not be);
 * - no tag and no digest: ":latest"; a tag and a digest: the digest alone (the tag is dropped);
 * - a digest's algorithm and length are checked (opencontainers/go-digest: sha256 = 64, sha384 = 96,
 *   sha512 = 128 lower-case hex).
 * Refused although one of the two containerd lines accepts it, so both read it the same way: an
 * upper-case first part without "." or ":" (a host for distribution v0.6.0, an error for
 * containerd 1.6.20) and IPv6 hosts (v0.6.0 only).
 */

const ALNUM = "[a-z0-9]+";
/** distribution v0.6.0 separatorRegexp `(?:[._]|__|[-]+)` (containerd 1.6.20 writes `[-]*`, the same language). */
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_NAME = new RegExp(`^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;
/** go-digest algorithms and their encoded lengths (digest.go, algorithm.go). */
const DIGEST_HEX: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
/** reference.go NameTotalLengthMax. */
const NAME_MAX = 255;

const DEFAULT_REGISTRY = "docker.io";
const LEGACY_REGISTRY = "index.docker.io";
const OFFICIAL_PREFIX = "library/";

export class ImageRefError extends Error {
    constructor(
        readonly ref: string,
        readonly reason: string,
    ) {
        super(`invalid image reference '${ref}': ${reason}`);
        this.name = "ImageRefError";
    }
}

export interface ImageRef {
    /** Registry host[:port]: docker.io for Docker Hub. */
    readonly domain: string;
    /** Repository path: library/<name> for Docker Hub official images. */
    readonly path: string;
    readonly tag?: string;
    readonly digest?: string;
}

/** splitDockerDomain: where the registry ends and the repository begins. */
function splitDomain(ref: string): { domain: string; remainder: string } {
    const slash = ref.indexOf("/");
    let domain: string;
    let remainder: string;
    if (slash < 0) {
        domain = DEFAULT_REGISTRY;
        remainder = ref;
    } else {
        const first = ref.slice(0, slash);
        if (first === "localhost" || /[.:]/.test(first)) {
            domain = first;
            remainder = ref.slice(slash + 1);
        } else {
            if (first !== first.toLowerCase()) {
                throw new ImageRefError(
                    ref,
                    `'${first}' has upper-case letters: containerd 1.6 reads it as a repository (invalid), 2.x as a registry host; write a host with a dot or port, or the repository in lower case`,
                );
            }
            domain = DEFAULT_REGISTRY;
            remainder = ref;
        }
    }
    if (domain === LEGACY_REGISTRY) domain = DEFAULT_REGISTRY;
    if (domain === DEFAULT_REGISTRY && !remainder.includes("/")) remainder = OFFICIAL_PREFIX + remainder;
    return { domain, remainder };
}

/** ParseNormalizedNamed: the fully qualified parts of a reference, tag and digest as given. */
export function parseImageRef(ref: string): ImageRef {
    if (ref === "") throw new ImageRefError(ref, "empty");
    if (IDENTIFIER.test(ref)) throw new ImageRefError(ref, "a 64-character hex string is an image id, not a name");
    if (ref.startsWith("[")) throw new ImageRefError(ref, "IPv6 registry hosts are not supported by containerd 1.6");
    const { domain, remainder } = splitDomain(ref);
    const colon = remainder.indexOf(":");
    const remote = colon < 0 ? remainder : remainder.slice(0, colon);
    if (remote !== remote.toLowerCase()) throw new ImageRefError(ref, `repository name '${remote}' must be lower case`);
    const m = REFERENCE.exec(`${domain}/${remainder}`);
    if (!m)
        throw new ImageRefError(
            ref,
            "not of the form [host[:port]/]path[:tag][@digest] (lower-case path parts separated by '/'; tag of word characters, '.' and '-', at most 128)",
        );
    const [, name, tag, digest] = m;
    if (name.length > NAME_MAX) throw new ImageRefError(ref, `the name is longer than ${NAME_MAX} characters`);
    const parts = ANCHORED_NAME.exec(name)!;
    if (digest !== undefined) {
        const [algorithm, hex] = digest.split(":");
        const length = DIGEST_HEX[algorithm];
        if (length === undefined) throw new ImageRefError(ref, `unsupported digest algorithm '${algorithm}' (sha256, sha384 or sha512)`);
        if (!new RegExp(`^[a-f0-9]{${length}}$`).test(hex)) throw new ImageRefError(ref, `a ${algorithm} digest is ${length} lower-case hex characters`);
    }
    return { domain: parts[1], path: parts[2], ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * ParseDockerRef: the name containerd stores and the kubelet's lookup resolves, e.g.
 * `vllm/vllm-openai:v0.33.0` -> `docker.io/vllm/vllm-openai:v0.33.0`, `busybox` ->
 * `docker.io/library/busybox:latest`, `x:1@sha256:...` -> `docker.io/library/x@sha256:...`.
 * Throws ImageRefError for what containerd would refuse.
 */
export function normalizeImageRef(ref: string): string {
    const r = parseImageRef(ref);
    const name = `${r.domain}/${r.path}`;
    if (r.digest !== undefined) return `${name}@${r.digest}`;
    return `${name}:${r.tag ?? "latest"}`;
}

/** The repository of a normalized reference: `docker.io/vllm/vllm-openai`. */
export function imageRepository(ref: string): string {
    const r = parseImageRef(ref);
    return `${r.domain}/${r.path}`;
}
