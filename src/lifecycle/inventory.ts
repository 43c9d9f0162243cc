// Reads the inventory block that src/aib/scripts/Get-ImageInventory.ps1 writes into the build's
// customization.log:
//   AVD-IMAGE-INVENTORY-BEGIN 1
//   AVD-IMAGE-INVENTORY 00000 <base64, 76 characters>
//   ...
//   AVD-IMAGE-INVENTORY-END <lines> <sha256 of the JSON>
// Each line may carry Packer's prefix ("[…] PACKER OUT     azure-arm: "); everything before the
// marker is ignored. A block is used only when it is complete: every numbered line present, the
// count and the checksum right.
import { createHash } from "node:crypto";
import { parseInventory, type ImageInventory } from "./releaseNotes";

export const INVENTORY_MARKER = "AVD-IMAGE-INVENTORY";

const BEGIN = new RegExp(`${INVENTORY_MARKER}-BEGIN (\\d+)\\s*$`);
const CHUNK = new RegExp(`${INVENTORY_MARKER} (\\d{5}) ([A-Za-z0-9+/=]+)\\s*$`);
const END = new RegExp(`${INVENTORY_MARKER}-END (\\d+) ([0-9a-f]{64})\\s*$`);

export interface InventoryExtraction {
    /** The last complete block's inventory. */
    inventory?: ImageInventory;
    /** Why there is no inventory, or what was odd about the log (several blocks, a broken one). */
    problems: string[];
}

interface OpenBlock {
    line: number;
    chunks: string[];
}

/** The inventory in a customization.log's text. Never throws: a missing or broken block is a problem in words. */
export function extractInventory(log: string): InventoryExtraction {
    const lines = log.replace(/\r\n/g, "\n").split("\n");
    const problems: string[] = [];
    const complete: Array<{ line: number; inventory: ImageInventory }> = [];
    let open: OpenBlock | undefined;
    lines.forEach((text, i) => {
        const lineNo = i + 1;
        const at = text.indexOf(INVENTORY_MARKER);
        if (at < 0) return;
        const rest = text.slice(at);
        const begin = BEGIN.exec(rest);
        if (begin) {
            if (open) problems.push(`the inventory block at line ${open.line} has no end line (a new block starts at line ${lineNo}); it was ignored`);
            if (begin[1] !== "1") {
                problems.push(`the inventory block at line ${lineNo} has format ${begin[1]}; this program reads format 1, so it was ignored`);
                open = undefined;
                return;
            }
            open = { line: lineNo, chunks: [] };
            return;
        }
        if (!open) return;
        const chunk = CHUNK.exec(rest);
        if (chunk) {
            const index = Number(chunk[1]);
            if (index !== open.chunks.length) {
                problems.push(`the inventory block at line ${open.line} skips from part ${open.chunks.length - 1} to ${index} at line ${lineNo} (the log lost lines); it was ignored`);
                open = undefined;
                return;
            }
            open.chunks.push(chunk[2]);
            return;
        }
        const end = END.exec(rest);
        if (end) {
            const block = open;
            open = undefined;
            const expected = Number(end[1]);
            if (expected !== block.chunks.length) {
                problems.push(`the inventory block at line ${block.line} has ${block.chunks.length} of its ${expected} parts; it was ignored`);
                return;
            }
            const json = Buffer.from(block.chunks.join(""), "base64");
            if (createHash("sha256").update(json).digest("hex") !== end[2]) {
                problems.push(`the inventory block at line ${block.line} does not match its checksum; it was ignored`);
                return;
            }
            try {
                complete.push({ line: block.line, inventory: parseInventory(JSON.parse(json.toString("utf8")) as unknown) });
            } catch (e) {
                problems.push(`the inventory block at line ${block.line} is not a valid inventory (${e instanceof Error ? e.message : String(e)}); it was ignored`);
            }
        }
    });
    if (open) problems.push(`the inventory block at line ${open.line} has no end line (the log is truncated); it was ignored`);
    const last = complete[complete.length - 1];
    if (!last) {
        if (problems.length === 0) problems.push(`customization.log has no inventory block (${INVENTORY_MARKER}-BEGIN); the image-inventory step did not run or its output was not logged`);
        return { problems };
    }
    if (complete.length > 1) {
        problems.push(`customization.log has ${complete.length} complete inventory blocks (lines ${complete.map((c) => c.line).join(", ")}); the last one is used`);
    }
    for (const e of last.inventory.errors) problems.push(`the inventory step could not read ${e}`);
    return { inventory: last.inventory, problems };
}
