using Microsoft.Extensions.Options;

namespace Grid.Hosting;

/// <summary>
/// The start-time check of one settings section: <see cref="Check"/> states the rules on a <see cref="SettingsCheck"/>
/// of <paramref name="section"/>, and every broken one becomes a reason naming its key.
/// </summary>
public abstract class SettingsValidator<TOptions>(string section) : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var check = new SettingsCheck(section);
        Check(check, options);
        return check.Result();
    }

    protected abstract void Check(SettingsCheck check, TOptions options);
}
