import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ENV_VARIABLES, loadConfig } from '../src/config.ts';

/**
 * deploy/kubernetes/ checked without a cluster, and without a schema
 * validator (none is a dependency here): each manifest parses, has the
 * fields its kind requires, and agrees with the others (names, labels,
 * ports), with the image (user, healthcheck script, entrypoint commands) and
 * with livequeue's configuration (the settings it accepts, the shutdown
 * timeout the grace periods must cover).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = join(ROOT, 'deploy/kubernetes');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [key: string]: any };

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const texts = Object.fromEntries(files.map((f) => [f, readFileSync(join(DIR, f), 'utf8')]));
const manifests: (Manifest & { file: string })[] = files.flatMap((file) =>
  parseAllDocuments(texts[file]!).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return { ...(doc.toJS() as Manifest), file };
  }),
);
const ofKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const named = (kind: string, name: string) => ofKind(kind).find((m) => m.metadata.name === name);
const deployment = (component: string) => ofKind('Deployment').find((d) => d.spec.template.metadata.labels['app.kubernetes.io/component'] === component)!;
const configMap = named('ConfigMap', 'livequeue')!;

/** The API version each kind is written for. */
const API_VERSIONS: Record<string, string> = {
  Deployment: 'apps/v1', Service: 'v1', ConfigMap: 'v1', Secret: 'v1', ServiceAccount: 'v1',
  PodMonitor: 'monitoring.coreos.com/v1', Kustomization: 'kustomize.config.k8s.io/v1beta1',
};

const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** A probe's port (a name or a number) as the container's port number, or undefined when no container port matches. */
function probePort(container: any, probe: any): number | undefined {
  const port = (probe.httpGet ?? probe.tcpSocket)?.port;
  const found = (container.ports as any[]).find((p) => p.name === port || p.containerPort === port);
  return found?.containerPort;
}

/** The container's environment as livequeue would see it: the ConfigMap, then its own env (Secret values as placeholders). */
function environmentOf(container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) Object.assign(env, named('ConfigMap', source.configMapRef.name)!.data);
  for (const e of container.env ?? []) env[e.name] = e.value ?? (e.valueFrom?.secretKeyRef ? `secret-${e.valueFrom.secretKeyRef.key}-0123456789` : '');
  return env;
}

describe('deploy/kubernetes', () => {
  it('every manifest parses, with apiVersion, kind and metadata.name, the kinds a deployment needs', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const m of manifests) {
      expect(API_VERSIONS[m.kind], `${m.file}: kind ${m.kind}`).toBeDefined();
      expect(m.apiVersion, `${m.file}: apiVersion of ${m.kind}`).toBe(API_VERSIONS[m.kind]);
      if (m.kind !== 'Kustomization') expect(m.metadata?.name, `${m.file}: metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'Secret', 'ServiceAccount', 'PodMonitor']) expect(ofKind(kind).length, kind).toBeGreaterThan(0);
    expect(ofKind('Deployment').map((d) => d.spec.template.metadata.labels['app.kubernetes.io/component']).sort()).toEqual(['server', 'worker']);
  });

  it('the kustomization applies every manifest but the Secret example', () => {
    const [kustomization] = ofKind('Kustomization');
    const resources = kustomization!.resources as string[];
    for (const resource of resources) expect(existsSync(join(DIR, resource)), resource).toBe(true);
    expect(resources.sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml').sort());
  });

  it('Deployments: selectors match their pods, the image is this version\'s, the commands are the CLI\'s', () => {
    for (const d of ofKind('Deployment')) {
      const pod = d.spec.template;
      expect(matches(d.spec.selector.matchLabels, pod.metadata.labels), `${d.metadata.name} selector`).toBe(true);
      expect(pod.spec.containers).toHaveLength(1);
      const [container] = pod.spec.containers;
      expect(container.image, d.metadata.name).toBe(`livequeue:${pkg.version}`);
      expect(container.name).toMatch(/^[a-z0-9-]+$/);
    }
    expect(deployment('worker').spec.template.spec.containers[0].args).toEqual(['worker']);
    expect(deployment('server').spec.template.spec.containers[0].args).toEqual(['serve']);
  });

  it('probes reach the ports the processes listen on: the worker\'s /metrics, the server\'s /healthz', () => {
    const worker = deployment('worker').spec.template.spec.containers[0];
    const workerEnv = environmentOf(worker);
    expect(worker.livenessProbe.httpGet.path).toBe('/metrics');
    expect(probePort(worker, worker.livenessProbe), 'liveness port is a container port').toBe(Number(workerEnv.METRICS_PORT ?? 9464));
    // Readiness runs the image's healthcheck, which the build compiles from workers/healthcheck.ts.
    expect(worker.readinessProbe.exec.command).toEqual(['node', 'dist/workers/healthcheck.js']);
    expect(existsSync(join(ROOT, 'workers/healthcheck.ts'))).toBe(true);
    expect(dockerfile).toContain('CMD ["node", "dist/workers/healthcheck.js"]');

    const server = deployment('server').spec.template.spec.containers[0];
    const serverEnv = environmentOf(server);
    expect(server.readinessProbe.httpGet.path).toBe('/healthz');
    expect(probePort(server, server.readinessProbe), 'readiness port is a container port').toBe(Number(serverEnv.HTTP_PORT));
    expect(probePort(server, server.livenessProbe), 'liveness port is a container port').toBe(Number(serverEnv.HTTP_PORT));
    expect(serverEnv.HTTP_HOST, 'reachable from the Service').toBe('0.0.0.0');
  });

  it('grace periods cover SHUTDOWN_TIMEOUT_MS with a margin (and the server\'s preStop pause)', () => {
    const shutdownSeconds = loadConfig(environmentOf(deployment('worker').spec.template.spec.containers[0])).shutdownTimeoutMs / 1000;
    expect(shutdownSeconds).toBe(30);
    const MARGIN = 10;
    expect(deployment('worker').spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(shutdownSeconds + MARGIN);
    const server = deployment('server').spec.template.spec;
    const preStop = server.containers[0].lifecycle?.preStop?.exec?.command as string[] | undefined;
    const pause = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
    expect(server.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pause + shutdownSeconds + MARGIN);
  });

  it('every ConfigMap, Secret, key and ServiceAccount referenced exists, and livequeue accepts the settings', () => {
    const secret = named('Secret', 'livequeue')!;
    for (const d of ofKind('Deployment')) {
      const pod = d.spec.template.spec;
      expect(named('ServiceAccount', pod.serviceAccountName), `${d.metadata.name} service account`).toBeDefined();
      expect(pod.automountServiceAccountToken).toBe(false);
      const container = pod.containers[0];
      for (const source of container.envFrom) expect(named('ConfigMap', source.configMapRef.name), source.configMapRef.name).toBeDefined();
      for (const e of container.env) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const found = named('Secret', ref.name);
        expect(found, `Secret ${ref.name}`).toBeDefined();
        expect(Object.keys(found!.stringData ?? found!.data), `${ref.name} has ${ref.key}`).toContain(ref.key);
      }
      // Every variable set is one livequeue reads, or one the credentials library reads.
      for (const name of Object.keys(environmentOf(container))) {
        expect(ENV_VARIABLES.includes(name as never) || name.startsWith('ALIBABA_CLOUD_'), `${d.metadata.name}: ${name}`).toBe(true);
      }
      // Parsed as the process will (a bad value would stop it at start).
      expect(() => loadConfig(environmentOf(container)), d.metadata.name).not.toThrow();
    }
    expect(Object.keys(secret.stringData).sort()).toEqual(['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'LIVEQUEUE_API_TOKEN', 'REDIS_PASSWORD']);
    for (const value of Object.values(secret.stringData)) expect(value, 'the example holds no secret').toBe('');
    expect(configMap.data.REDIS_URL).toMatch(/^rediss?:\/\//);
    // The server needs no AccessKey; the worker gets the pair from the Secret (or RRSA, shown commented).
    expect(environmentOf(deployment('server').spec.template.spec.containers[0])).not.toHaveProperty('ALIBABA_CLOUD_ACCESS_KEY_ID');
    const workerText = texts['worker-deployment.yaml']!;
    for (const variable of ['ALIBABA_CLOUD_ROLE_ARN', 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN', 'ALIBABA_CLOUD_OIDC_TOKEN_FILE']) expect(workerText).toMatch(new RegExp(`^\\s*# - name: ${variable}$`, 'm'));
    expect(workerText).toMatch(/^\s*#\s+audience: sts\.aliyuncs\.com$/m);
  });

  it('pods run as the image\'s numeric user, non-root, read-only, without privilege escalation or capabilities, within limits', () => {
    const [uid, gid] = /^USER (\d+):(\d+)$/m.exec(dockerfile)!.slice(1).map(Number);
    for (const d of ofKind('Deployment')) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext, d.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, seccompProfile: { type: 'RuntimeDefault' } });
      expect(typeof pod.securityContext.runAsUser).toBe('number');
      const container = pod.containers[0];
      expect(container.securityContext, d.metadata.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      // A read-only root: /tmp is a volume of its own.
      const tmp = container.volumeMounts.find((v: any) => v.mountPath === '/tmp');
      expect(pod.volumes.find((v: any) => v.name === tmp?.name)?.emptyDir, `${d.metadata.name} /tmp`).toBeDefined();
      for (const kind of ['requests', 'limits']) expect(container.resources[kind].memory, `${d.metadata.name} memory ${kind}`).toMatch(/^\d+Mi$/);
      expect(container.resources.requests.cpu).toBeDefined();
    }
  });

  it('the Service selects the server pods and targets their port; the PodMonitor scrapes workers and servers', () => {
    const service = named('Service', 'livequeue')!;
    const server = deployment('server').spec.template;
    expect(matches(service.spec.selector, server.metadata.labels)).toBe(true);
    expect(matches(service.spec.selector, deployment('worker').spec.template.metadata.labels), 'not the workers').toBe(false);
    for (const port of service.spec.ports) expect(server.spec.containers[0].ports.map((p: any) => p.name)).toContain(port.targetPort);

    const [monitor] = ofKind('PodMonitor');
    const selected = ofKind('Deployment').filter((d) => matches(monitor!.spec.selector.matchLabels, d.spec.template.metadata.labels));
    expect(selected.map((d) => d.metadata.name).sort()).toEqual(['livequeue-server', 'livequeue-worker']);
    const portNames = new Set(selected.flatMap((d) => d.spec.template.spec.containers[0].ports.map((p: any) => p.name)));
    for (const endpoint of monitor!.spec.podMetricsEndpoints) {
      expect(portNames, endpoint.port).toContain(endpoint.port);
      expect(endpoint.path).toBe('/metrics');
    }
  });
});
