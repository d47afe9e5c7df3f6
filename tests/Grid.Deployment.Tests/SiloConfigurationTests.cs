using System.Data.Common;
using Grid.Deployment.Tests.Infrastructure;

namespace Grid.Deployment.Tests;

public sealed class SiloConfigurationTests
{
    private static ContainerEnvironment Env => K8s.SiloEnv;

    [Fact]
    public void The_silo_stores_everything_in_postgres()
    {
        Assert.Equal(HostContract.PostgresStorage, Env.Literal(HostContract.Storage));
    }

    [Theory]
    [MemberData(nameof(HostContract.ClusterVariables), MemberType = typeof(HostContract))]
    [InlineData(HostContract.OtlpEndpoint)]
    [InlineData(HostContract.OtelServiceName)]
    public void The_silo_container_sets_each_variable_the_host_needs_in_postgres_cluster_mode(string name)
    {
        var value = Env[name];

        Assert.NotNull(value);
        Assert.True(!string.IsNullOrWhiteSpace(value!.Value) || value.FieldPath is not null || value.SecretKey is not null, $"{name} is empty");
    }

    [Fact]
    public void No_variable_is_set_twice()
    {
        var twice = Env.All.GroupBy(v => v.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();

        Assert.Empty(twice);
    }

    [Fact]
    public void Demo_nodes_are_switched_off_in_production()
    {
        Assert.Equal("0", Env.Literal(HostContract.DemoNodes));
    }

    [Fact]
    public void Every_variable_reference_points_at_a_variable_defined_earlier_so_kubernetes_expands_it()
    {
        foreach (var container in K8s.Manifests.SelectMany(m => m.Containers))
        {
            var env = ContainerEnvironment.Of(container);
            foreach (var v in env.All)
            {
                foreach (var reference in ContainerEnvironment.References(v.Value))
                {
                    Assert.True(env[reference] is { } r && r.Index < v.Index, $"{v.Name} refers to $({reference}), which is not defined before it");
                }
            }
        }
    }

    [Fact]
    public void The_advertised_address_is_the_pod_ip()
    {
        Assert.Equal($"$({HostContract.PodIp})", Env.Literal(HostContract.AdvertisedAddress));
        Assert.Equal("status.podIP", Env[HostContract.PodIp]?.FieldPath);
    }

    [Fact]
    public void Silo_and_gateway_ports_match_the_container_ports_the_cluster_uses()
    {
        var siloPort = int.Parse(Env.Literal(HostContract.SiloPort) ?? HostContract.DefaultSiloPort.ToString());
        var gatewayPort = int.Parse(Env.Literal(HostContract.GatewayPort) ?? HostContract.DefaultGatewayPort.ToString());

        Assert.Equal(siloPort, K8s.NamedPort(K8s.SiloContainer, "silo"));
        Assert.Equal(gatewayPort, K8s.NamedPort(K8s.SiloContainer, "gateway"));
    }

    [Fact]
    public void The_http_container_port_is_the_port_the_host_listens_on()
    {
        Assert.Equal(ListenPort(), K8s.NamedPort(K8s.SiloContainer, "http"));
    }

    [Fact]
    public void Readiness_and_liveness_probes_ask_the_host_health_endpoints_on_the_http_port()
    {
        var container = K8s.SiloContainer;

        Assert.Equal(HostContract.ReadyPath, container.Str("readinessProbe", "httpGet", "path"));
        Assert.Equal(HostContract.LivePath, container.Str("livenessProbe", "httpGet", "path"));
        Assert.Equal(ListenPort(), K8s.ResolvePort(container, container.Str("readinessProbe", "httpGet", "port")));
        Assert.Equal(ListenPort(), K8s.ResolvePort(container, container.Str("livenessProbe", "httpGet", "port")));
        if (container.At("startupProbe") is not null)
        {
            Assert.Contains(container.Str("startupProbe", "httpGet", "path"), new[] { HostContract.LivePath, HostContract.ReadyPath });
            Assert.Equal(ListenPort(), K8s.ResolvePort(container, container.Str("startupProbe", "httpGet", "port")));
        }
    }

    [Fact]
    public void Prometheus_scrape_annotations_if_any_point_at_the_host_metrics_endpoint()
    {
        var annotations = K8s.Silo.Root.Map("spec", "template", "metadata", "annotations");
        if (!annotations.ContainsKey("prometheus.io/scrape"))
        {
            return;
        }

        Assert.Equal(HostContract.MetricsPath, annotations.GetValueOrDefault("prometheus.io/path", "/metrics"));
        Assert.Equal(ListenPort().ToString(), annotations.GetValueOrDefault("prometheus.io/port"));
    }

    [Fact]
    public void The_connection_string_reaches_the_postgres_service_with_the_password_from_the_secret()
    {
        var builder = new DbConnectionStringBuilder { ConnectionString = Env.Literal(HostContract.ConnectionString) };
        var host = (string)builder["Host"];
        var port = builder.TryGetValue("Port", out var p) ? int.Parse((string)p) : 5432;

        var service = K8s.Find("Service", host.Split('.')[0]);
        Assert.NotNull(service);
        Assert.Contains(service!.Root.Items("spec", "ports"), sp => sp.Str("port") == port.ToString());
        var postgres = K8s.OfKind("StatefulSet").Single(s => K8s.Selects(service.Root.Map("spec", "selector"), s.PodLabels));

        var password = Assert.Single(ContainerEnvironment.References((string)builder["Password"]));
        var source = Env[password];
        Assert.NotNull(source?.SecretKey);
        var server = ContainerEnvironment.Of(Assert.Single(postgres.Containers))["POSTGRES_PASSWORD"];
        Assert.Equal((server?.SecretName, server?.SecretKey), (source!.SecretName, source.SecretKey));

        foreach (var (key, serverVariable) in new[] { ("Username", "POSTGRES_USER"), ("Database", "POSTGRES_DB") })
        {
            var value = (string)builder[key];
            var expected = ContainerEnvironment.Of(Assert.Single(postgres.Containers))[serverVariable];
            Assert.NotNull(expected);
            if (ContainerEnvironment.References(value) is [var reference])
            {
                Assert.Equal((expected!.SecretName, expected.SecretKey, expected.Value), (Env[reference]?.SecretName, Env[reference]?.SecretKey, Env[reference]?.Value));
            }
            else
            {
                Assert.Equal(expected!.Value, value);
            }
        }
    }

    [Fact]
    public void Every_secret_key_a_container_reads_exists()
    {
        foreach (var manifest in K8s.Manifests.Where(m => m.PodSpec is not null))
        {
            foreach (var v in manifest.Containers.SelectMany(c => ContainerEnvironment.Of(c).All).Where(v => v.SecretName is not null))
            {
                var secret = K8s.Find("Secret", v.SecretName!);
                Assert.True(secret is not null, $"{manifest}: {v.Name} reads secret {v.SecretName}, which is not in k8s/");
                var keys = secret!.Root.Map("stringData").Keys.Concat(secret.Root.Map("data").Keys);
                Assert.Contains(v.SecretKey, keys);
            }
        }
    }

    [Fact]
    public void Resource_requests_and_limits_are_set_for_every_container()
    {
        foreach (var container in K8s.Manifests.SelectMany(m => m.Containers))
        {
            foreach (var part in new[] { "requests", "limits" })
            {
                Assert.False(string.IsNullOrEmpty(container.Str("resources", part, "cpu")), $"{container.Str("name")} has no {part}.cpu");
                Assert.False(string.IsNullOrEmpty(container.Str("resources", part, "memory")), $"{container.Str("name")} has no {part}.memory");
            }
        }
    }

    [Fact]
    public void The_termination_grace_period_leaves_time_for_the_silo_to_leave_the_cluster()
    {
        var grace = int.Parse(K8s.Silo.PodSpec.Str("terminationGracePeriodSeconds") ?? "30");

        Assert.InRange(grace, 45, 600);
    }

    [Fact]
    public void The_grace_period_covers_the_prestop_pause_and_the_hosts_whole_graceful_shutdown()
    {
        var grace = int.Parse(K8s.Silo.PodSpec.Str("terminationGracePeriodSeconds") ?? "30");
        var preStop = K8s.SiloContainer.Strings("lifecycle", "preStop", "exec", "command");
        Assert.Equal("sleep", preStop[0]);

        // The pod is killed at the grace period's end: a silo still handing over its grains would lose them there.
        Assert.True(int.Parse(preStop[1]) + HostContract.GracefulShutdownSeconds + 5 <= grace,
            $"terminationGracePeriodSeconds {grace} must cover preStop ({preStop[1]} s) + the host's shutdown ({HostContract.GracefulShutdownSeconds} s) + 5 s");
        // A rolling update brings a new silo up before an old one leaves; a drain takes one silo at a time.
        Assert.Equal(("1", "0"), (K8s.Silo.Root.Str("spec", "strategy", "rollingUpdate", "maxSurge"), K8s.Silo.Root.Str("spec", "strategy", "rollingUpdate", "maxUnavailable")));
    }

    [Fact]
    public void The_silo_runs_as_a_non_root_user()
    {
        Assert.Equal("true", K8s.Silo.PodSpec.Str("securityContext", "runAsNonRoot"));
    }

    [Fact]
    public void The_otlp_endpoint_is_a_collector_service_that_receives_otlp_and_exports_metrics_to_prometheus()
    {
        var endpoint = new Uri(Env.Literal(HostContract.OtlpEndpoint)!);
        var service = K8s.Find("Service", endpoint.Host.Split('.')[0]);
        Assert.NotNull(service);
        var servicePort = Assert.Single(service!.Root.Items("spec", "ports"), p => p.Str("port") == endpoint.Port.ToString());

        var collector = K8s.OfKind("Deployment").Single(d => K8s.Selects(service.Root.Map("spec", "selector"), d.PodLabels));
        var container = Assert.Single(collector.Containers);
        Assert.NotNull(K8s.ResolvePort(container, servicePort.Str("targetPort") ?? servicePort.Str("port")));

        var configMapName = collector.PodSpec.Items("volumes").Select(v => v.Str("configMap", "name")).Single(n => n is not null);
        var configMap = K8s.Find("ConfigMap", configMapName!);
        Assert.NotNull(configMap);
        var config = YamlExtensions.LoadDocuments(configMap!.Root.Map("data").Values.Single()).Single();
        var protocol = endpoint.Port == 4318 ? "http" : "grpc";
        Assert.Contains($":{endpoint.Port}", config.Str("receivers", "otlp", "protocols", protocol, "endpoint"));
        Assert.Contains("otlp", config.Strings("service", "pipelines", "metrics", "receivers"));
        Assert.Contains("prometheus", config.Strings("service", "pipelines", "metrics", "exporters"));
        Assert.Contains("debug", config.Strings("service", "pipelines", "traces", "exporters"));
    }

    /// <summary>The port of the host's HTTP listener, from ASPNETCORE_URLS as Kestrel reads it.</summary>
    internal static int ListenPort()
    {
        var urls = Env.Literal(HostContract.Urls);
        Assert.False(string.IsNullOrEmpty(urls), $"{HostContract.Urls} is not set: the host would listen on 127.0.0.1 only");
        var url = Assert.Single(urls!.Split(';', StringSplitOptions.RemoveEmptyEntries));
        var host = url.Split("://")[1].Split(':')[0];
        Assert.Contains(host, new[] { "0.0.0.0", "*", "+", "[::]" });
        return new Uri(url.Replace("://*", "://0.0.0.0").Replace("://+", "://0.0.0.0")).Port;
    }
}
