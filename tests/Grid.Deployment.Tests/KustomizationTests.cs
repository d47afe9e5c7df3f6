using Grid.Deployment.Tests.Infrastructure;

namespace Grid.Deployment.Tests;

public sealed class KustomizationTests
{
    [Fact]
    public void Every_manifest_file_under_k8s_is_listed_in_the_kustomization_and_every_listed_file_exists()
    {
        var listed = K8s.Kustomization.Strings("resources");

        Assert.NotEmpty(listed);
        Assert.Equal(listed.Count, listed.Distinct().Count());
        foreach (var file in listed)
        {
            Assert.True(File.Exists(Path.Combine(K8s.Folder, file)), $"kustomization.yaml lists {file}, which does not exist");
        }

        Assert.Equal(K8s.ManifestFiles.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_document_of_every_manifest_parses_into_a_named_kubernetes_object()
    {
        Assert.NotEmpty(K8s.Manifests);
        foreach (var file in K8s.ManifestFiles)
        {
            Assert.Contains(K8s.Manifests, m => m.File == file);
        }

        foreach (var manifest in K8s.Manifests)
        {
            Assert.False(string.IsNullOrEmpty(manifest.Root.Str("apiVersion")), $"{manifest} has no apiVersion");
            Assert.False(string.IsNullOrEmpty(manifest.Kind), $"{manifest} has no kind");
            Assert.False(string.IsNullOrEmpty(manifest.Name), $"{manifest} has no name");
        }

        var duplicates = K8s.Manifests.GroupBy(m => (m.Kind, m.Name)).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);
    }

    [Fact]
    public void Everything_lives_in_the_namespace_the_kustomization_sets_and_that_namespace_is_created()
    {
        var ns = K8s.Kustomization.Str("namespace");

        Assert.False(string.IsNullOrEmpty(ns));
        Assert.NotNull(K8s.Find("Namespace", ns!));
        foreach (var manifest in K8s.Manifests.Where(m => m.Kind != "Namespace"))
        {
            Assert.True(manifest.Namespace is null || manifest.Namespace == ns, $"{manifest} is in namespace {manifest.Namespace}, not {ns}");
        }
    }

    [Fact]
    public void The_kustomization_image_entry_names_the_silo_image_so_it_can_be_retagged()
    {
        var image = K8s.SiloContainer.Str("image");
        Assert.False(string.IsNullOrEmpty(image));
        var name = image!.Split('@')[0];
        var colon = name.LastIndexOf(':');
        if (colon > name.LastIndexOf('/'))
        {
            name = name[..colon];
        }

        Assert.Contains(K8s.Kustomization.Items("images"), i => i.Str("name") == name);
    }
}
