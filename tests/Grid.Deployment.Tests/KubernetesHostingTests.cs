using Grid.Deployment.Tests.Infrastructure;

namespace Grid.Deployment.Tests;

/// <summary>What Orleans Kubernetes hosting expects of the silo pods, their identity and their neighbours.</summary>
public sealed class KubernetesHostingTests
{
    private static ContainerEnvironment Env => K8s.SiloEnv;

    [Fact]
    public void The_pod_variables_come_from_the_downward_api()
    {
        foreach (var (name, field) in HostContract.DownwardApi)
        {
            Assert.Equal(field, Env[name]?.FieldPath);
        }
    }

    [Fact]
    public void The_orleans_pod_labels_equal_the_service_and_cluster_ids_the_host_is_configured_with()
    {
        var labels = K8s.Silo.PodLabels;
        var serviceId = Env.Literal(HostContract.ServiceId) ?? HostContract.DefaultServiceId;
        var clusterId = Env.Literal(HostContract.ClusterId) ?? HostContract.DefaultClusterId;

        Assert.Equal(serviceId, labels.GetValueOrDefault(HostContract.ServiceIdLabel));
        Assert.Equal(clusterId, labels.GetValueOrDefault(HostContract.ClusterIdLabel));
    }

    [Fact]
    public void The_orleans_id_overrides_if_set_agree_with_the_host_configuration()
    {
        if (Env.Literal(HostContract.OrleansServiceIdOverride) is { } serviceId)
        {
            Assert.Equal(Env.Literal(HostContract.ServiceId) ?? HostContract.DefaultServiceId, serviceId);
        }

        if (Env.Literal(HostContract.OrleansClusterIdOverride) is { } clusterId)
        {
            Assert.Equal(Env.Literal(HostContract.ClusterId) ?? HostContract.DefaultClusterId, clusterId);
        }
    }

    [Fact]
    public void The_deployment_selector_selects_its_own_pods_and_runs_three_silos()
    {
        Assert.True(K8s.Selects(K8s.Silo.Root.Map("spec", "selector", "matchLabels"), K8s.Silo.PodLabels));
        Assert.Equal("3", K8s.Silo.Root.Str("spec", "replicas"));
    }

    [Fact]
    public void The_silo_service_account_may_get_list_watch_patch_and_delete_pods_in_its_namespace()
    {
        var account = K8s.Silo.PodSpec.Str("serviceAccountName");
        Assert.False(string.IsNullOrEmpty(account), "the silo pods run as the default service account");
        Assert.NotNull(K8s.Find("ServiceAccount", account!));

        var roles = K8s.OfKind("RoleBinding")
            .Where(b => b.Root.Items("subjects").Any(s => s.Str("kind") == "ServiceAccount" && s.Str("name") == account))
            .Where(b => b.Root.Str("roleRef", "kind") == "Role")
            .Select(b => K8s.Find("Role", b.Root.Str("roleRef", "name") ?? ""))
            .OfType<Manifest>()
            .ToList();
        Assert.NotEmpty(roles);

        var verbs = roles
            .SelectMany(r => r.Root.Items("rules"))
            .Where(rule => rule.Strings("apiGroups").Contains("") && rule.Strings("resources").Any(x => x is "pods" or "*"))
            .SelectMany(rule => rule.Strings("verbs"))
            .ToHashSet();
        foreach (var verb in HostContract.PodVerbs)
        {
            Assert.True(verbs.Contains(verb) || verbs.Contains("*"), $"the silo role does not grant '{verb}' on pods");
        }
    }

    [Fact]
    public void The_disruption_budget_covers_the_silo_pods_and_takes_at_most_one_at_a_time()
    {
        var pdb = Assert.Single(K8s.OfKind("PodDisruptionBudget"), p => K8s.Selects(p.Root.Map("spec", "selector", "matchLabels"), K8s.Silo.PodLabels));

        Assert.Equal("1", pdb.Root.Str("spec", "maxUnavailable"));
    }

    [Fact]
    public void The_api_service_selects_the_silo_pods_and_targets_the_http_port()
    {
        var api = K8s.OfKind("Service")
            .Where(s => K8s.Selects(s.Root.Map("spec", "selector"), K8s.Silo.PodLabels))
            .ToList();
        var service = Assert.Single(api);
        var httpPort = SiloConfigurationTests.ListenPort();

        Assert.Contains(service.Root.Items("spec", "ports"), p => K8s.ResolvePort(K8s.SiloContainer, p.Str("targetPort") ?? p.Str("port")) == httpPort);
    }
}
