/**
 * A streaming multipart/form-data parser (RFC 7578) for `POST /v1/files`: chunks go in as they
 * arrive from the socket, part data comes out as it is found, and nothing larger than a
 * delimiter plus one part's headers is kept between chunks, so an upload of any size is parsed
 * in bounded memory. Enough for what OpenAI SDKs send (fields `purpose`, `expires_after[...]`
 * and `file`); no dependency on @fastify/multipart.
 */
import { errors } from "../errors";

export interface PartHead {
    name: string;
    filename?: string;
    contentType?: string;
}

export interface PartHandlers {
    /** A part begins. */
    part(head: PartHead): void;
    /** Bytes of the current part (a view into the chunk: copy it to keep it past the call). */
    data(bytes: Buffer): void;
}

const MAX_PARTS = 16;
const MAX_HEADER_BYTES = 8 * 1024;
const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

export function boundaryOf(contentType: string | undefined): string {
    const m = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType ?? "");
    if (!m) throw errors.badRequest("Upload the file as multipart/form-data with fields 'purpose' and 'file'", "invalid_multipart");
    return m[1] ?? m[2];
}

function headerParam(header: string, name: string): string | undefined {
    const m = new RegExp(`;\\s*${name}="((?:[^"\\\\]|\\\\.)*)"`, "i").exec(header) ?? new RegExp(`;\\s*${name}=([^;\\s]+)`, "i").exec(header);
    return m ? m[1].replace(/\\(.)/g, "$1") : undefined;
}

const bad = (why: string) => errors.badRequest(`Malformed multipart body: ${why}`, "invalid_multipart");

function parseHead(raw: Buffer): PartHead {
    const headers = raw.toString("latin1").split("\r\n");
    const disposition = headers.find((h) => /^content-disposition:/i.test(h));
    const name = disposition ? headerParam(disposition, "name") : undefined;
    if (name === undefined) throw bad("a part has no Content-Disposition name");
    const filename = disposition ? headerParam(disposition, "filename") : undefined;
    const ct = headers.find((h) => /^content-type:/i.test(h));
    return {
        name,
        filename: filename === undefined ? undefined : Buffer.from(filename, "latin1").toString("utf8"),
        contentType: ct?.slice(ct.indexOf(":") + 1).trim(),
    };
}

type State = "preamble" | "after-boundary" | "headers" | "body" | "done";

export class MultipartParser {
    private readonly first: Buffer;
    /** CRLF + "--" + boundary: what ends a part's body. */
    private readonly delim: Buffer;
    private state: State = "preamble";
    /** Bytes kept from the previous chunk (at most a delimiter, or a part's headers so far). */
    private carry: Buffer = Buffer.alloc(0);
    private parts = 0;

    constructor(
        boundary: string,
        private readonly on: PartHandlers,
    ) {
        this.first = Buffer.from(`--${boundary}`);
        this.delim = Buffer.concat([CRLF, this.first]);
    }

    get complete(): boolean {
        return this.state === "done";
    }

    /** Feeds the next chunk of the body; throws a 400 GatewayError on a malformed one. */
    push(chunk: Buffer): void {
        let buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
        this.carry = Buffer.alloc(0);
        for (;;) {
            if (this.state === "done") return; // an epilogue is ignored
            if (this.state === "preamble") {
                const at = buf.indexOf(this.first);
                if (at < 0) {
                    // Keep only what may be the start of the first delimiter.
                    this.carry = Buffer.from(buf.subarray(Math.max(0, buf.length - this.first.length + 1)));
                    return;
                }
                buf = buf.subarray(at + this.first.length);
                this.state = "after-boundary";
            }
            if (this.state === "after-boundary") {
                if (buf.length < 2) {
                    this.carry = Buffer.from(buf);
                    return;
                }
                if (buf[0] === 0x2d && buf[1] === 0x2d) {
                    this.state = "done"; // "--": the closing delimiter
                    return;
                }
                if (buf[0] !== 0x0d || buf[1] !== 0x0a) throw bad("boundary not followed by CRLF");
                buf = buf.subarray(2);
                this.state = "headers";
            }
            if (this.state === "headers") {
                const end = buf.indexOf(HEADER_END);
                if (end < 0) {
                    if (buf.length > MAX_HEADER_BYTES) throw bad("part headers missing or too long");
                    this.carry = Buffer.from(buf);
                    return;
                }
                if (end > MAX_HEADER_BYTES) throw bad("part headers missing or too long");
                if (++this.parts > MAX_PARTS) throw bad(`more than ${MAX_PARTS} parts`);
                this.on.part(parseHead(buf.subarray(0, end)));
                buf = buf.subarray(end + HEADER_END.length);
                this.state = "body";
            }
            if (this.state === "body") {
                const at = buf.indexOf(this.delim);
                if (at < 0) {
                    // All but what may be the start of the delimiter is the part's.
                    const keep = Math.min(buf.length, this.delim.length - 1);
                    if (buf.length > keep) this.on.data(buf.subarray(0, buf.length - keep));
                    this.carry = Buffer.from(buf.subarray(buf.length - keep));
                    return;
                }
                if (at > 0) this.on.data(buf.subarray(0, at));
                buf = buf.subarray(at + this.delim.length);
                this.state = "after-boundary";
            }
        }
    }

    /** The body ended: throws unless the closing delimiter was seen. */
    end(): void {
        if (this.state === "preamble") throw bad("no boundary found");
        if (this.state !== "done") throw bad("unterminated part");
    }
}
