using System.CommandLine;
using Grid.Agent;

namespace Grid.Cli;

/// <summary><c>grid reserve</c> and <c>grid reservations list|show|cancel|events</c>.</summary>
internal static class ReservationCommands
{
    private static readonly (string, string)[] s_columns =
    [
        ("ID", "reservationId"), ("STATE", "state"), ("NODE", "nodeId"), ("EPOCH", "epoch"),
        ("CRU", "resources.cru"), ("MRU", "resources.mru"), ("SRU", "resources.sru"), ("HRU", "resources.hru"), ("IPV4", "resources.ipv4"),
    ];

    public static Command Reserve()
    {
        var cru = new Option<long>("--cru") { Description = "Logical cores", DefaultValueFactory = _ => 1 };
        var mru = CommonOptions.Size("--mru", "RAM");
        var sru = CommonOptions.Size("--sru", "SSD");
        var hru = CommonOptions.Size("--hru", "HDD");
        var ipv4 = new Option<int>("--ipv4") { Description = "Public IPv4 addresses" };
        var farms = new Option<long[]>("--farm") { Description = "Only on these farms (repeatable)", AllowMultipleArgumentsPerToken = true };
        var country = new Option<string?>("--country") { Description = "Only in this country" };
        var certified = new Option<bool?>("--certified") { Description = "Only on certified nodes" };
        var node = new Option<long?>("--node") { Description = "Pin to this node" };
        var antiAffinity = new Option<string?>("--anti-affinity") { Description = "No two of your reservations of this group on one node" };
        var strategy = new Option<PlacementStrategy?>("--strategy") { Description = "binpack (default) or spread" };
        var idempotencyKey = new Option<string?>("--idempotency-key") { Description = "Retrying with the same key returns the first result" };
        var reserve = new Command("reserve", "Reserve capacity; the controller picks a node")
        {
            cru, mru, sru, hru, ipv4, farms, country, certified, node, antiAffinity, strategy, idempotencyKey,
        };
        reserve.SetApiAction(
            (parse, api, ct) =>
            {
                var resources = new Capacity(parse.GetValue(cru), parse.GetValue(mru) ?? 0, parse.GetValue(sru) ?? 0, parse.GetValue(hru) ?? 0, parse.GetValue(ipv4));
                var constraints = new ReservationConstraints(
                    parse.GetValue(farms) is { Length: > 0 } ids ? ids : null,
                    parse.GetValue(country),
                    parse.GetValue(certified),
                    parse.GetValue(node),
                    parse.GetValue(antiAffinity));
                var request = new CreateReservationRequest(resources, constraints == new ReservationConstraints() ? null : constraints, parse.GetValue(strategy));
                return api.ReserveAsync(request, parse.GetValue(idempotencyKey), ct);
            },
            (output, reservation) => output.WriteLine(
                $"reservation {Output.Cell(reservation, "reservationId")} {Output.Cell(reservation, "state")} on node {Output.Cell(reservation, "nodeId")} (epoch {Output.Cell(reservation, "epoch")})"
                + (Output.Cell(reservation, "publicIps") is { Length: > 0 } ips and not "[]" ? $", public IPs {ips}" : "")));
        return reserve;
    }

    public static Command Reservations()
    {
        var id = new Argument<long>("reservation-id") { Description = "Reservation id" };

        var list = new Command("list", "List your reservations");
        list.SetApiAction((_, api, ct) => api.ListReservationsAsync(ct), (output, all) => Output.Table(output, Output.Rows(all), s_columns));

        var show = new Command("show", "Show a reservation") { id };
        show.SetApiAction((parse, api, ct) => api.GetReservationAsync(parse.GetValue(id), ct), Output.Fields);

        var cancel = new Command("cancel", "Cancel a reservation: frees its capacity and IPs, deletes its workloads") { id };
        cancel.SetApiAction((parse, api, ct) => api.CancelReservationAsync(parse.GetValue(id), ct), (output, _) => output.WriteLine("reservation cancelled"));

        var events = new Command("events", "What happened to a reservation: placed, moved, failed, cancelled") { id };
        events.SetApiAction(
            (parse, api, ct) => api.ReservationEventsAsync(parse.GetValue(id), ct),
            (output, all) => Output.Table(output, Output.Rows(all), ("AT", "at"), ("KIND", "kind"), ("NODE", "nodeId"), ("EPOCH", "epoch"), ("MESSAGE", "message")));

        return new Command("reservations", "Your claims on capacity") { list, show, cancel, events };
    }
}
