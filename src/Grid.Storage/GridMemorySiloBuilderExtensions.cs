using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Storage;

/// <summary>The in-memory storage of the single-silo mode.</summary>
public static class GridMemorySiloBuilderExtensions
{
    /// <summary>
    /// <see cref="LocalMemoryGrainStorage"/> named <see cref="GridPostgresSiloBuilderExtensions.StorageName"/>
    /// and in-memory reminders. Measured: Orleans' memory provider (a storage-grain hop and a Newtonsoft JSON
    /// copy per write) was the largest cost of an in-memory placement.
    /// </summary>
    public static ISiloBuilder UseGridMemory(this ISiloBuilder silo)
    {
        silo.Services.AddKeyedSingleton<IGrainStorage>(
            GridPostgresSiloBuilderExtensions.StorageName,
            (services, _) => new LocalMemoryGrainStorage(services.GetRequiredService<Serializer>()));
        silo.UseInMemoryReminderService();
        return silo;
    }
}
