using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Grid.Hosting;

public static class GridSettingsExtensions
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from <paramref name="section"/> and checks it with
    /// <typeparamref name="TValidator"/> when the host starts: a wrong value stops the host with every reason listed
    /// (<see cref="SettingsCheck"/>), not at the first use, minutes later or never.
    /// </summary>
    public static OptionsBuilder<TOptions> AddGridSettings<TOptions, TValidator>(this IServiceCollection services, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        return services.AddOptions<TOptions>().BindConfiguration(section).ValidateOnStart();
    }
}
