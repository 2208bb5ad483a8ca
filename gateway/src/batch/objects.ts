/**
 * The OpenAI objects this API returns (files, batches, output lines), built from what Valkey
 * holds. Shapes follow the OpenAI API reference (platform.openai.com/docs/api-reference/batch
 * and /files) as the `openai` Node SDK 6.x types them (resources/batches.d.ts, files.d.ts).
 */
import { randomBytes } from "crypto";

export type BatchStatus = "validating" | "failed" | "in_progress" | "finalizing" | "completed" | "expired" | "cancelling" | "cancelled";

export const newFileId = () => `file-${randomBytes(12).toString("hex")}`;
export const newBatchId = () => `batch_${randomBytes(12).toString("hex")}`;
export const newLineRequestId = () => `batch_req_${randomBytes(12).toString("hex")}`;
/** Output and error files get ids derived from the batch id: the Lua script that finishes a batch creates them. */
export const outputFileId = (batchId: string) => `file-${batchId.slice("batch_".length)}o`;
export const errorFileId = (batchId: string) => `file-${batchId.slice("batch_".length)}e`;

export const ID = /^[A-Za-z0-9_-]{1,64}$/;

const num = (v: string | undefined): number | null => (v === undefined || v === "" ? null : Number(v));

export function fileObject(h: Record<string, string>) {
    return {
        id: h.id,
        object: "file" as const,
        bytes: Number(h.bytes),
        created_at: Number(h.created_at),
        filename: h.filename,
        purpose: h.purpose,
        status: "processed" as const,
        expires_at: num(h.expires_at),
        status_details: null,
    };
}

export function batchObject(h: Record<string, string>) {
    return {
        id: h.id,
        object: "batch" as const,
        endpoint: h.endpoint,
        model: h.model || undefined,
        errors: h.errors ? (JSON.parse(h.errors) as unknown) : null,
        input_file_id: h.input_file_id,
        completion_window: h.completion_window,
        status: h.status as BatchStatus,
        output_file_id: h.output_file_id || null,
        error_file_id: h.error_file_id || null,
        created_at: Number(h.created_at),
        in_progress_at: num(h.in_progress_at),
        expires_at: num(h.expires_at),
        finalizing_at: num(h.finalizing_at),
        completed_at: num(h.completed_at),
        failed_at: num(h.failed_at),
        expired_at: num(h.expired_at),
        cancelling_at: num(h.cancelling_at),
        cancelled_at: num(h.cancelled_at),
        request_counts: { total: Number(h.total ?? 0), completed: Number(h.completed ?? 0), failed: Number(h.failed ?? 0) },
        metadata: h.metadata ? (JSON.parse(h.metadata) as Record<string, string>) : null,
    };
}

export interface LineResponse {
    status: number;
    requestId: string;
    body: Buffer;
}

function bodyJson(body: Buffer): unknown {
    try {
        return JSON.parse(body.toString("utf8"));
    } catch {
        return body.toString("utf8");
    }
}

/** A line of the output (2xx) or error file (other status, or no answer at all). */
export function outputLine(customId: string, res: LineResponse | undefined, error?: { code: string; message: string }): string {
    return JSON.stringify({
        id: newLineRequestId(),
        custom_id: customId,
        response: res ? { status_code: res.status, request_id: res.requestId, body: bodyJson(res.body) } : null,
        error: error ?? null,
    });
}
