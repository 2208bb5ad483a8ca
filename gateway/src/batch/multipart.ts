/**
 * A small multipart/form-data parser (RFC 7578) for `POST /v1/files`: the body arrives as one
 * Buffer already bounded by the route's bodyLimit (maxFileBytes + a margin), and parts are
 * sliced out of it without copies. Enough for what OpenAI SDKs send (fields `purpose` and
 * `file`); no dependency on @fastify/multipart, whose streaming would only move the bound.
 */
import { errors } from "../errors";

export interface MultipartPart {
    name: string;
    filename?: string;
    contentType?: string;
    data: Buffer;
}

const MAX_PARTS = 16;
const MAX_HEADER_BYTES = 8 * 1024;

export function boundaryOf(contentType: string | undefined): string {
    const m = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType ?? "");
    if (!m) throw errors.badRequest("Upload the file as multipart/form-data with fields 'purpose' and 'file'", "invalid_multipart");
    return m[1] ?? m[2];
}

function headerParam(header: string, name: string): string | undefined {
    const m = new RegExp(`;\\s*${name}="((?:[^"\\\\]|\\\\.)*)"`, "i").exec(header) ?? new RegExp(`;\\s*${name}=([^;\\s]+)`, "i").exec(header);
    return m ? m[1].replace(/\\(.)/g, "$1") : undefined;
}

export function parseMultipart(body: Buffer, contentType: string | undefined): MultipartPart[] {
    const boundary = boundaryOf(contentType);
    const delim = Buffer.from(`--${boundary}`);
    const bad = (why: string) => errors.badRequest(`Malformed multipart body: ${why}`, "invalid_multipart");
    let pos = body.indexOf(delim);
    if (pos < 0) throw bad("no boundary found");
    const parts: MultipartPart[] = [];
    for (;;) {
        pos += delim.length;
        if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // "--": closing delimiter
        if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw bad("boundary not followed by CRLF");
        pos += 2;
        const headEnd = body.indexOf("\r\n\r\n", pos);
        if (headEnd < 0 || headEnd - pos > MAX_HEADER_BYTES) throw bad("part headers missing or too long");
        const headers = body.subarray(pos, headEnd).toString("latin1").split("\r\n");
        const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delim]), headEnd + 4);
        if (next < 0) throw bad("unterminated part");
        const disposition = headers.find((h) => /^content-disposition:/i.test(h));
        const name = disposition ? headerParam(disposition, "name") : undefined;
        if (name === undefined) throw bad("a part has no Content-Disposition name");
        const filename = disposition ? headerParam(disposition, "filename") : undefined;
        const ct = headers.find((h) => /^content-type:/i.test(h));
        parts.push({ name, filename: filename === undefined ? undefined : Buffer.from(filename, "latin1").toString("utf8"), contentType: ct?.slice(ct.indexOf(":") + 1).trim(), data: body.subarray(headEnd + 4, next) });
        if (parts.length > MAX_PARTS) throw bad(`more than ${MAX_PARTS} parts`);
        pos = next + 2;
    }
}
