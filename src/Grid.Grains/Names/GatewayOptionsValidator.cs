using System.Text.RegularExpressions;
using Grid.Hosting;

namespace Grid.Names;

/// <summary>Checks <c>Grid:Gateways</c> at start; every wrong value is one reason naming its key.</summary>
public sealed partial class GatewayOptionsValidator() : SettingsValidator<GatewayOptions>(GatewayOptions.Section)
{
    protected override void Check(SettingsCheck check, GatewayOptions options) =>
        check.Require(options.Domain is { Length: <= 200 } domain && DomainPattern().IsMatch(domain), nameof(options.Domain), options.Domain,
            "must be a lowercase DNS domain of dot-separated labels (letters, digits, inner hyphens), e.g. gw.example.org.");

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+\\z")]
    private static partial Regex DomainPattern();
}
