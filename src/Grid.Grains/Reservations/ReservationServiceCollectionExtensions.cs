using Microsoft.Extensions.DependencyInjection;

namespace Grid.Reservations;

public static class ReservationServiceCollectionExtensions
{
    /// <summary>The silo services reservation grains are built with: the placer (as their placement) and billing's services.</summary>
    public static IServiceCollection AddReservations(this IServiceCollection services)
    {
        services.AddSingleton<ReservationPlacer>();
        services.AddSingleton<IReservationPlacement>(sp => sp.GetRequiredService<ReservationPlacer>());
        services.AddSingleton<ReservationBillingServices>();
        return services;
    }
}
