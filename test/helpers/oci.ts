/**
 * A tiny OCI image built by hand, as an OCI image layout directory (opencontainers/image-spec
 * image-layout.md: `oci-layout`, `index.json`, `blobs/sha256/<hex>`): one gzipped tar layer holding
 * one file, an image config (config.md: architecture, os, rootfs.diff_ids = sha256 of the
 * uncompressed layer), a manifest (manifest.md) and the index naming it `latest`
 * (annotation org.opencontainers.image.ref.name, which `skopeo copy oci:<dir>:latest` reads).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { gzipSync } from "zlib";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** One regular file in a ustar archive (POSIX.1-1988 header, 512-byte blocks, two zero blocks at the end). */
function tarOneFile(name: string, content: Buffer): Buffer {
    const header = Buffer.alloc(512);
    const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii");
    const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, "0") + "\0";
    field(0, 100, name);
    field(100, 8, octal(0o644, 8));
    field(108, 8, octal(0, 8));
    field(116, 8, octal(0, 8));
    field(124, 12, octal(content.length, 12));
    field(136, 12, octal(0, 12));
    field(148, 8, "        "); // checksum counted as spaces
    field(156, 1, "0");
    field(257, 6, "ustar\0");
    field(263, 2, "00");
    const sum = header.reduce((a, b) => a + b, 0);
    field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
    content.copy(padded);
    return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}

export interface OciLayout {
    readonly dir: string;
    /** sha256:<hex> of the manifest: the repository digest a registry serves it under. */
    readonly manifestDigest: string;
    /** sha256:<hex> of the config: the image id containerd's CRI reports. */
    readonly configDigest: string;
}

/** Writes the layout under `dir` and returns its digests. */
export function writeOciLayout(
    dir: string,
    file: { name: string; content: string } = { name: "hello.txt", content: "cached by the image-cache build\n" },
): OciLayout {
    const blobs = path.join(dir, "blobs", "sha256");
    fs.mkdirSync(blobs, { recursive: true });
    const put = (b: Buffer) => {
        const hex = sha256(b);
        fs.writeFileSync(path.join(blobs, hex), b);
        return { digest: `sha256:${hex}`, size: b.length };
    };
    const tar = tarOneFile(file.name, Buffer.from(file.content));
    const layer = put(gzipSync(tar));
    const config = put(
        Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [`sha256:${sha256(tar)}`] } })),
    );
    const manifest = put(
        Buffer.from(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
            }),
        ),
    );
    fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    fs.writeFileSync(
        path.join(dir, "index.json"),
        JSON.stringify({
            schemaVersion: 2,
            manifests: [
                {
                    mediaType: "application/vnd.oci.image.manifest.v1+json",
                    ...manifest,
                    platform: { architecture: "amd64", os: "linux" },
                    annotations: { "org.opencontainers.image.ref.name": "latest" },
                },
            ],
        }),
    );
    return { dir, manifestDigest: manifest.digest, configDigest: config.digest };
}
