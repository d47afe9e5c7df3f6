using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using Orleans.Connections.Security;

namespace Grid.Host.Hosting;

/// <summary>Mutual TLS between silos, bound from <c>Grid:Cluster:Tls</c>. Off unless a certificate is configured.</summary>
public sealed class GridTlsOptions
{
    /// <summary>PEM file of this silo's certificate, issued by the grid's CA. Default: none (TLS off).</summary>
    public string? Certificate { get; set; }

    /// <summary>PEM file of the certificate's private key. Default: none (the key is then read from <see cref="Certificate"/>).</summary>
    public string? Key { get; set; }

    /// <summary>PEM file of the grid's CA certificate(s); only peers whose certificate one of them signed are accepted. Default: none.</summary>
    public string? Ca { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(Certificate);
}

/// <summary>
/// Silo-to-silo (and gateway) connections over TLS where both sides present a certificate and each accepts the
/// other only when the grid's CA signed it: a machine without such a certificate cannot join the cluster.
/// </summary>
public static class ClusterTls
{
    public static void UseGridTls(this ISiloBuilder silo, GridTlsOptions tls)
    {
        if (!tls.Enabled)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(tls.Ca))
        {
            throw new OptionsValidationException("Grid:Cluster:Tls", typeof(GridTlsOptions),
                ["Grid:Cluster:Tls:Certificate needs Grid:Cluster:Tls:Ca, the grid CA that signs every silo's certificate."]);
        }

        foreach (var (setting, path) in new[] { ("Certificate", tls.Certificate!), ("Key", tls.Key), ("Ca", tls.Ca) })
        {
            if (path is not null && (!File.Exists(path) || new FileInfo(path).Length == 0))
            {
                throw new OptionsValidationException("Grid:Cluster:Tls", typeof(GridTlsOptions),
                    [$"Grid:Cluster:Tls:{setting} names {path}, which is missing or empty (on Kubernetes: fill the grid-silo-tls Secret, see docs/deploy.md)."]);
            }
        }

        var certificate = LoadCertificate(tls.Certificate!, tls.Key);
        // Several CAs may be listed (one PEM after another) while the grid rotates its CA.
        var ca = new X509Certificate2Collection();
        ca.ImportFromPemFile(tls.Ca);
        silo.UseTls(certificate, options =>
        {
            options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;

            // Silos reach each other by IP, so the host name is not what identifies a peer: the CA's signature is.
            options.RemoteCertificateValidation = (remote, _, _) => IsSignedBy(remote, ca);
        });
    }

    /// <summary>True when <paramref name="certificate"/> chains to one of <paramref name="ca"/> alone and is within its validity.</summary>
    public static bool IsSignedBy(X509Certificate2 certificate, X509Certificate2Collection ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    private static X509Certificate2 LoadCertificate(string certificatePath, string? keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, string.IsNullOrWhiteSpace(keyPath) ? null : keyPath);

        // Re-imported so the private key is usable by SslStream on every platform (an ephemeral PEM key is not on Windows).
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}
