import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { onlyPool } from "./fixtures/fleet";
import { parseRingConfig } from "../src/config/parse";
import { evaluateHostReport, gateTimeoutMinutes, gpuDriverProblem, parseHostReport, ReportError, sampleSize, selectHostsToCheck, type GateThresholds, type HostReport } from "../src/rollout/healthGate";
import { HEALTH_CHECK_SCRIPT } from "../tools/rollout/healthGateRunner";

const thresholds: GateThresholds = { maxCpuPercent: 80, minFreeMemoryPercent: 20, checkFslogix: true, loginProbe: false, maxLoginSeconds: 30 };

const healthy: HostReport = {
    domainJoined: true,
    entraJoined: false,
    services: { RDAgent: "Running", RDAgentBootLoader: "Running", frxsvc: "Running" },
    cpuPercent: 20,
    freeMemoryPercent: 50,
};

describe("health gate checks", () => {
    it("probes every host of a small ring and 10 + 5% of a large one", () => {
        assert.equal(sampleSize(4), 4);
        assert.equal(sampleSize(11), 11);
        assert.equal(sampleSize(40), 12);
        assert.equal(sampleSize(1000), 60);
    });

    it("always includes every host of the last batch, then spreads the rest over zones", () => {
        const hosts = Array.from({ length: 60 }, (_, i) => ({ instanceId: String(i), zone: String((i % 3) + 1), lastOperationTime: i >= 54 ? 2000 + i : 1000 }));
        const chosen = selectHostsToCheck(hosts, 6).map((h) => h.instanceId);
        assert.equal(chosen.length, 13);
        for (const id of ["54", "55", "56", "57", "58", "59"]) assert.ok(chosen.includes(id), id);
        const rest = chosen.filter((id) => Number(id) < 54).map((id) => hosts[Number(id)].zone);
        assert.deepEqual([...new Set(rest)].sort(), ["1", "2", "3"]);
        const bigBatch = selectHostsToCheck(hosts.slice(0, 20), 15);
        assert.equal(bigBatch.length, 15, "a last batch larger than the sample is probed whole");
    });

    it("passes a healthy host and names every failed check", () => {
        assert.deepEqual(evaluateHostReport(healthy, thresholds), []);
        assert.deepEqual(evaluateHostReport({ ...healthy, entraJoined: true, domainJoined: false }, thresholds), [], "Microsoft Entra join counts");
        assert.deepEqual(
            evaluateHostReport({ domainJoined: false, entraJoined: false, services: { RDAgent: "Stopped" }, cpuPercent: 91, freeMemoryPercent: 5 }, thresholds),
            ["not joined to Active Directory or Microsoft Entra ID", "RDAgent Stopped", "RDAgentBootLoader not installed", "frxsvc not installed", "CPU 91% > 80%", "free memory 5% < 20%"],
        );
        assert.deepEqual(evaluateHostReport({ ...healthy, services: { RDAgent: "Running", RDAgentBootLoader: "Running" } }, { ...thresholds, checkFslogix: false }), []);
    });

    it("checks the login time only when the login probe is on", () => {
        const slow = { ...healthy, lastLogon: { seconds: 41, user: "CONTOSO\\probe" } };
        assert.deepEqual(evaluateHostReport(slow, thresholds), []);
        assert.deepEqual(evaluateHostReport(slow, { ...thresholds, loginProbe: true }), ["login took 41 s > 30 s (CONTOSO\\probe)"]);
        assert.deepEqual(evaluateHostReport({ ...slow, lastLogon: { seconds: 12 } }, { ...thresholds, loginProbe: true }), []);
    });

    it("reads the probe's report from the last JSON line of its output", () => {
        const out = 'WARNING: something\r\n{"not":"this"}\r\n{"computerName":"AVDPRD000001","domainJoined":false,"entraJoined":true,"services":{"RDAgent":"Running"},"cpuPercent":3.5,"freeMemoryPercent":70.1,"lastLogon":{"user":"x","seconds":12.5}}\r\n';
        assert.deepEqual(parseHostReport(out), {
            computerName: "AVDPRD000001",
            domainJoined: false,
            entraJoined: true,
            services: { RDAgent: "Running" },
            cpuPercent: 3.5,
            freeMemoryPercent: 70.1,
            lastLogon: { user: "x", seconds: 12.5, time: undefined },
        });
        assert.throws(() => parseHostReport("Access denied"), ReportError);
        assert.throws(() => parseHostReport("{broken"), /printed no JSON report \(last output: \{broken\)/);
    });

    it("keeps the probe script and the gate in step: parameters it is sent, fields it reports", () => {
        const script = readFileSync(HEALTH_CHECK_SCRIPT, "utf8");
        for (const param of ["$CheckFslogix", "$MeasureLogon", "$GpuVendor"]) assert.ok(script.includes(`[string] ${param}`), `the script declares ${param}`);
        for (const field of ["computerName", "domainJoined", "entraJoined", "services", "cpuPercent", "freeMemoryPercent", "lastLogon", "gpu"]) {
            assert.match(script, new RegExp(`\\n\\s+${field}\\s+=`), `the script reports ${field}`);
        }
        for (const service of ["RDAgent", "RDAgentBootLoader", "frxsvc"]) assert.ok(script.includes(`'${service}'`), service);
        assert.match(script, /ConvertTo-Json -Compress/);
        for (const fact of ["name =", "status =", "errorCode =", "driverVersion =", "adapters =", "nvidiaSmi ="]) assert.ok(script.includes(fact), `the script reports ${fact}`);
        assert.match(script, /Win32_VideoController/);
        assert.match(script, /WaitForExit\(30000\)/, "a hung nvidia-smi cannot hang the probe");
    });

    describe("GPU driver (GPU pools)", () => {
        const a10 = { name: "NVIDIA A10-8Q", status: "OK", errorCode: 0, driverVersion: "32.0.15.7424" };
        const hyperV = { name: "Microsoft Hyper-V Video", status: "OK", errorCode: 0 };
        const gpuHost = (gpu: HostReport["gpu"]): HostReport => ({ ...healthy, ...(gpu ? { gpu } : {}) });

        it("passes an NVIDIA host whose adapter works and whose nvidia-smi answers", () => {
            assert.equal(gpuDriverProblem(gpuHost({ adapters: [hyperV, a10], nvidiaSmi: 0 }), "nvidia"), undefined);
            assert.deepEqual(evaluateHostReport(gpuHost({ adapters: [hyperV, a10], nvidiaSmi: 0 }), { ...thresholds, gpuVendor: "nvidia" }), []);
        });

        it("names the driver in every reason a GPU host fails", () => {
            const cases: Array<[HostReport["gpu"], string]> = [
                [undefined, "NVIDIA GPU driver not checked: the probe reported no GPU facts"],
                [{ adapters: [hyperV, { name: "Microsoft Basic Display Adapter", status: "OK", errorCode: 0 }], nvidiaSmi: "NotInstalled" }, "NVIDIA GPU driver not loaded: no NVIDIA display adapter (Windows shows Microsoft Hyper-V Video, Microsoft Basic Display Adapter)"],
                [{ adapters: [] }, "NVIDIA GPU driver not loaded: no NVIDIA display adapter (Windows shows no display adapter)"],
                [{ adapters: [{ ...a10, status: "Error", errorCode: 43 }], nvidiaSmi: 9 }, "NVIDIA GPU driver not working: NVIDIA A10-8Q status Error, device error code 43 (Windows stopped the device: its driver failed to start)"],
                [{ adapters: [{ ...a10, status: "Degraded" }], nvidiaSmi: 0 }, "NVIDIA GPU driver not working: NVIDIA A10-8Q status Degraded"],
                [{ adapters: [a10], nvidiaSmi: "NotInstalled" }, "NVIDIA GPU driver incomplete: nvidia-smi not found (the GRID driver installs it)"],
                [{ adapters: [a10], nvidiaSmi: "TimedOut" }, "NVIDIA GPU driver not responding: nvidia-smi did not finish within 30 s"],
                [{ adapters: [a10], nvidiaSmi: 9 }, "NVIDIA GPU driver not responding: nvidia-smi exited with code 9"],
            ];
            for (const [gpu, reason] of cases) assert.deepEqual(evaluateHostReport(gpuHost(gpu), { ...thresholds, gpuVendor: "nvidia" }), [reason]);
        });

        it("checks AMD hosts by their Radeon adapter alone, and never takes one vendor's adapter for the other's", () => {
            const v710 = { name: "AMD Radeon PRO V710 MxGPU", status: "OK", errorCode: 0 };
            assert.equal(gpuDriverProblem(gpuHost({ adapters: [hyperV, v710] }), "amd"), undefined);
            assert.equal(gpuDriverProblem(gpuHost({ adapters: [{ name: "Radeon Instinct MI25 MxGPU", status: "OK", errorCode: 0 }] }), "amd"), undefined);
            assert.match(gpuDriverProblem(gpuHost({ adapters: [a10], nvidiaSmi: 0 }), "amd") ?? "", /^AMD GPU driver not loaded: no AMD display adapter \(Windows shows NVIDIA A10-8Q\)$/);
            assert.match(gpuDriverProblem(gpuHost({ adapters: [v710] }), "nvidia") ?? "", /^NVIDIA GPU driver not loaded/);
        });

        it("ignores the GPU on pools without a GPU vendor", () => {
            assert.deepEqual(evaluateHostReport(gpuHost({ adapters: [{ ...a10, status: "Error", errorCode: 43 }], nvidiaSmi: 9 }), thresholds), []);
        });

        it("reads the GPU facts from the probe's report", () => {
            const line = JSON.stringify({ ...healthy, gpu: { vendor: "nvidia", adapters: [hyperV, { ...a10, errorCode: 43, status: "Error" }, "junk"], nvidiaSmi: 9 } });
            assert.deepEqual(parseHostReport(line).gpu, { adapters: [{ ...hyperV, driverVersion: undefined }, { ...a10, errorCode: 43, status: "Error" }], nvidiaSmi: 9 });
            assert.deepEqual(parseHostReport(JSON.stringify({ ...healthy, gpu: { adapters: [a10], nvidiaSmi: "NotInstalled" } })).gpu?.nvidiaSmi, "NotInstalled");
            assert.equal(parseHostReport(JSON.stringify({ ...healthy, gpu: null })).gpu, undefined, "the probe prints gpu: null when not asked");
        });
    });

    it("gives Rolling rings enough time for Azure's whole rolling upgrade", () => {
        const base = {
            imageVersion: "1.2.0",
            location: "westeurope",
            promoteFrom: "contoso/avd-image-rings/test",
            sessionHosts: {
                vmSize: "Standard_D8s_v5",
                capacity: 6,
                computerNamePrefix: "avdplt",
                zones: ["1"],
                subnetId: "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s",
                osDiskSizeGb: 128,
                upgradeMode: "Rolling",
                rollingUpgrade: { maxBatchInstancePercent: 34, maxUnhealthyInstancePercent: 34, pauseTimeBetweenBatches: "PT10M" },
            },
        };
        const secret = () => undefined;
        const rolling = parseRingConfig({ stack: "pilot", values: base, secret });
        assert.equal(gateTimeoutMinutes(onlyPool(rolling).sessionHosts), 3 * (20 + 10) + 30, "3 batches of 2 hosts, 20 min upgrade + 10 min pause each, + 30");
        const manual = parseRingConfig({ stack: "prod", values: { ...base, sessionHosts: { ...base.sessionHosts, upgradeMode: "Manual" } }, secret });
        assert.equal(gateTimeoutMinutes(onlyPool(manual).sessionHosts), 60);
    });

    it("gives the gate room for a whole probe round when probes may take long", () => {
        const sessionHosts = {
            vmSize: "Standard_D8s_v5",
            capacity: 6,
            computerNamePrefix: "avdplt",
            zones: ["1"],
            subnetId: "/subscriptions/8c6f4f2e-3a1b-4d5c-9e7f-2b1a0c9d8e7f/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-avd/subnets/snet-avd",
            osDiskSizeGb: 128,
            upgradeMode: "Manual",
            healthGate: { probeTimeoutMinutes: 75 },
        };
        const values = { imageVersion: "1.2.0", location: "westeurope", promoteFrom: "contoso/avd-image-rings/test", sessionHosts };
        const secret = () => undefined;
        const manual = parseRingConfig({ stack: "prod", values, secret });
        assert.equal(onlyPool(manual).sessionHosts.healthGate.probeTimeoutMinutes, 75);
        assert.equal(gateTimeoutMinutes(onlyPool(manual).sessionHosts), 95, "the 75 min probe plus 20 min for hosts to report Available");
        const rolling = parseRingConfig({ stack: "prod", values: { ...values, sessionHosts: { ...sessionHosts, upgradeMode: "Rolling", rollingUpgrade: { maxBatchInstancePercent: 34, maxUnhealthyInstancePercent: 34, pauseTimeBetweenBatches: "PT10M" } } }, secret });
        assert.equal(gateTimeoutMinutes(onlyPool(rolling).sessionHosts), 3 * (20 + 10) + 95);
        assert.throws(() => parseRingConfig({ stack: "prod", values: { ...values, sessionHosts: { ...sessionHosts, healthGate: { probeTimeoutMinutes: 120 } } }, secret }), /probeTimeoutMinutes/);
    });
});
