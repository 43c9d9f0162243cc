// What an image template puts into the image: every place in an AIB template where software
// can be installed or staged on the build VM, scanned with one set of rules.
import { buildVmSteps, destination, inlineLines, isScriptStep, scriptUri, sourceUri } from "./aib";
import { scanScript, scanValue, type Finding, type ScanRules } from "./scriptScan";
import { asArray, asString, stringsIn, type Props } from "./values";

export interface TemplateFinding extends Finding {
    /** Where in the template, e.g. `customize[3] "apps" (PowerShell) inline`. */
    where: string;
}

export function scanTemplate(template: Props, rules: ScanRules): TemplateFinding[] {
    const found: TemplateFinding[] = [];
    const add = (where: string, findings: Finding[]) => findings.forEach((f) => found.push({ ...f, where }));
    for (const step of buildVmSteps(template)) {
        if (isScriptStep(step)) {
            add(`${step.label} inline`, scanScript(inlineLines(step), rules));
            const uri = scriptUri(step);
            if (uri) add(`${step.label} scriptUri`, scanValue(uri, rules));
        } else if (step.type === "File") {
            const src = sourceUri(step);
            const dst = destination(step);
            if (src) add(`${step.label} sourceUri`, scanValue(src, rules));
            if (dst) add(`${step.label} destination`, scanValue(dst, rules));
        } else if (step.type === "WindowsRestart") {
            // Restart commands are commands too.
            const commands = [asString(step.raw.restartCommand), asString(step.raw.restartCheckCommand)].filter((c): c is string => !!c);
            add(`${step.label} restart command`, scanScript(commands, rules));
        }
    }
    asArray(template.distribute).forEach((entry, i) => {
        for (const { path, value } of stringsIn(entry)) add(`distribute[${i}].${path}`, scanValue(value, rules));
    });
    return found;
}
