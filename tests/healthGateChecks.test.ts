import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { onlyPool } from "./fixtures/fleet";
import { parseRingConfig } from "../src/config/parse";
import { evaluateHostReport, gateTimeoutMinutes, parseHostReport, ReportError, sampleSize, selectHostsToCheck, type GateThresholds, type HostReport } from "../src/rollout/healthGate";
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
        for (const param of ["$CheckFslogix", "$MeasureLogon"]) assert.ok(script.includes(`[string] ${param}`), `the script declares ${param}`);
        for (const field of ["computerName", "domainJoined", "entraJoined", "services", "cpuPercent", "freeMemoryPercent", "lastLogon"]) {
            assert.match(script, new RegExp(`\\n\\s+${field}\\s+=`), `the script reports ${field}`);
        }
        for (const service of ["RDAgent", "RDAgentBootLoader", "frxsvc"]) assert.ok(script.includes(`'${service}'`), service);
        assert.match(script, /ConvertTo-Json -Compress/);
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
