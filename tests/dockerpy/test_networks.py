"""Networks: create/inspect/list/remove/prune, IPAM, connect/disconnect, endpoints in
container inspect, the embedded DNS, and the `client.networks` models.

Networks with a subnet of their own take it from the `subnets` fixture (addresses that
only this daemon uses); the others get theirs from the daemon's default pool.
"""

import ipaddress

import docker
import pytest
from docker.types import IPAMConfig, IPAMPool

from conftest import BASE, unique


def new_net(api, track, **kwargs):
    """A network created through the low-level API: (name, id)."""
    name = unique("dpy-net")
    net_id = track.network(api.create_network(name, **kwargs))["Id"]
    return name, net_id


def ipam(*pools, **kwargs):
    return IPAMConfig(pool_configs=[IPAMPool(**p) for p in pools], **kwargs)


def endpoint(api, container, net):
    """The container's `NetworkSettings.Networks[net]`, read now."""
    return api.inspect_container(container)["NetworkSettings"]["Networks"][net]


def start_on(api, track, net, **create):
    """A running `sleep 300` whose network mode is `net`: its id."""
    host_config = api.create_host_config(network_mode=net)
    c = api.create_container(BASE, ["sleep", "300"], host_config=host_config, **create)
    track.container(c["Id"])
    api.start(c)
    return c["Id"]


def lookup(container, name):
    """The addresses the container's resolver gives for `name` (busybox nslookup)."""
    res = container.exec_run(["nslookup", name])
    lines = res.output.decode().splitlines() if res.exit_code == 0 else []
    return {l.split(":", 1)[1].strip() for l in lines if l.startswith("Address: ")}


# --- create / inspect ---------------------------------------------------------------------


def test_create_and_inspect_defaults(api, track):
    name, net_id = new_net(api, track)
    net = api.inspect_network(net_id)
    assert net["Id"] == net_id and net["Name"] == name
    assert net["Driver"] == "bridge" and net["Scope"] == "local"
    assert net["Internal"] is False and net["Attachable"] is False
    assert net["EnableIPv6"] is False and net["Ingress"] is False
    assert net["Labels"] == {} and net["Options"] == {} and net["Containers"] == {}
    assert net["IPAM"]["Driver"] == "default"
    [pool] = net["IPAM"]["Config"]
    assert ipaddress.ip_address(pool["Gateway"]) in ipaddress.ip_network(pool["Subnet"])
    # By name, by id prefix, and with the scope it has.
    assert api.inspect_network(name)["Id"] == net_id
    assert api.inspect_network(net_id[:12])["Id"] == net_id
    assert api.inspect_network(name, scope="local")["Id"] == net_id
    with pytest.raises(docker.errors.NotFound):
        api.inspect_network(name, scope="swarm")
    with pytest.raises(docker.errors.NotFound):
        api.inspect_network(unique("dpy-missing"))


def test_create_with_driver_labels_options_flags(api, track):
    _, net_id = new_net(
        api, track, driver="bridge", labels={"com.dpy.test": "label", "k": ""},
        options={"com.docker.network.bridge.enable_icc": "true"},
        internal=True, attachable=True, scope="local",
    )
    net = api.inspect_network(net_id)
    assert net["Driver"] == "bridge" and net["Labels"] == {"com.dpy.test": "label", "k": ""}
    assert net["Options"] == {"com.docker.network.bridge.enable_icc": "true"}
    assert net["Internal"] is True and net["Attachable"] is True


def test_create_with_ipam_config(api, track, subnets):
    s = subnets.take()
    hosts = list(s.net.hosts())  # 14 of them in a /28
    gateway, aux, iprange = str(hosts[-1]), str(hosts[8]), f"{s.net[8]}/29"
    _, net_id = new_net(api, track, ipam=ipam(
        dict(subnet=s.cidr, gateway=gateway, iprange=iprange, aux_addresses={"reserved": aux}),
        driver="default",
    ))
    got = api.inspect_network(net_id)["IPAM"]
    assert got.pop("Options", None) is None
    assert got == {"Driver": "default", "Config": [{
        "Subnet": s.cidr, "Gateway": gateway, "IPRange": iprange,
        "AuxiliaryAddresses": {"reserved": aux},
    }]}
    # Addresses come from the range, the auxiliary one never; the gateway is the given one.
    cid = start_on(api, track, net_id)
    ep = endpoint(api, cid, api.inspect_network(net_id)["Name"])
    assert ipaddress.ip_address(ep["IPAddress"]) in ipaddress.ip_network(iprange)
    assert ep["IPAddress"] != aux and ep["Gateway"] == gateway and ep["IPPrefixLen"] == 28


def test_create_duplicate_name_conflicts(api, track):
    name, _ = new_net(api, track)
    for check in (True, False, None):
        with pytest.raises(docker.errors.APIError) as info:
            track.network(api.create_network(name, check_duplicate=check))
        assert info.value.status_code == 409


def test_create_refused(api, track, subnets):
    with pytest.raises(docker.errors.APIError):
        track.network(api.create_network(unique("dpy-net"), driver="host"))
    with pytest.raises(docker.errors.NotFound):
        track.network(api.create_network(unique("dpy-net"), driver="no-such-driver"))
    with pytest.raises(docker.errors.APIError):
        track.network(api.create_network("bridge"))
    s = subnets.take()
    new_net(api, track, ipam=ipam(dict(subnet=s.cidr)))
    with pytest.raises(docker.errors.APIError) as info:
        track.network(api.create_network(unique("dpy-net"), ipam=ipam(dict(subnet=s.cidr))))
    assert info.value.status_code == 403  # "Pool overlaps with other one on this address space"


def test_ipv6_network(api, client, track, subnets):
    s4, s6 = subnets.take(), subnets.take_v6()
    pools = ipam(dict(subnet=s4.cidr), dict(subnet=s6.cidr, gateway=s6.gateway))
    try:
        name, net_id = new_net(api, track, enable_ipv6=True, ipam=pools)
    except docker.errors.APIError as e:
        pytest.skip(f"the daemon does not take an IPv6 network yet: {e.explanation}")
    net = api.inspect_network(net_id)
    assert net["EnableIPv6"] is True
    assert [p["Subnet"] for p in net["IPAM"]["Config"]] == [s4.cidr, s6.cidr]
    fixed = str(s6.net[0xBEEF])
    cid = start_on(api, track, name, networking_config=api.create_networking_config(
        {name: api.create_endpoint_config(ipv6_address=fixed)}))
    ep = endpoint(api, cid, name)
    assert ep["IPAMConfig"]["IPv6Address"] == ep["GlobalIPv6Address"] == fixed
    assert ep["GlobalIPv6PrefixLen"] == 64 and ep["IPv6Gateway"] == s6.gateway
    assert api.inspect_network(net_id)["Containers"][cid]["IPv6Address"] == f"{fixed}/64"
    other = client.containers.get(start_on(api, track, name))
    assert fixed in lookup(other, api.inspect_container(cid)["Name"].lstrip("/"))
    assert other.exec_run(["ping", "-c", "1", "-W", "5", fixed]).exit_code == 0


def test_macvlan_network(api, client, track, subnets):
    # The kernel here has no dummy links, so the parent is a bridge of our own: a fresh one,
    # for a bridge that had ports and has none left loses its carrier (and so would they).
    parent = unique("dpm")[:15]
    new_net(api, track, options={"com.docker.network.bridge.name": parent})
    s = subnets.take()
    name, net_id = new_net(api, track, driver="macvlan", options={"parent": parent},
                           ipam=ipam(dict(subnet=s.cidr, gateway=s.gateway)))
    net = api.inspect_network(net_id)
    assert net["Driver"] == "macvlan" and net["Options"] == {"parent": parent}
    a = start_on(api, track, name)
    ep = endpoint(api, a, name)
    assert ipaddress.ip_address(ep["IPAddress"]) in s.net and ep["Gateway"] == s.gateway
    b = client.containers.get(start_on(api, track, name))
    assert lookup(b, api.inspect_container(a)["Name"].lstrip("/")) == {ep["IPAddress"]}
    assert b.exec_run(["ping", "-c", "1", "-W", "5", ep["IPAddress"]]).exit_code == 0


# --- list ---------------------------------------------------------------------------------


def test_list_with_filters(api, track):
    tag = unique("lbl")
    name, net_id = new_net(api, track, labels={"dpy.tag": tag, "only-key": "x"})

    def ids(**kwargs):
        return [n["Id"] for n in api.networks(**kwargs)]

    assert net_id in ids()
    assert ids(names=[name]) == [net_id]
    assert ids(ids=[net_id]) == [net_id]
    assert ids(ids=[net_id[:10]]) == [net_id]
    assert ids(names=[unique("dpy-none")]) == []
    assert ids(filters={"label": f"dpy.tag={tag}"}) == [net_id]
    assert ids(filters={"label": ["only-key", f"dpy.tag={tag}"]}) == [net_id]
    assert ids(filters={"label": "dpy.tag=other"}) == []
    assert net_id in ids(filters={"driver": "bridge"})
    assert net_id not in ids(filters={"driver": "macvlan"})
    assert net_id in ids(filters={"type": "custom"})
    builtin = {n["Name"] for n in api.networks(filters={"type": "builtin"})}
    assert builtin == {"bridge", "host", "none"}
    with pytest.raises(docker.errors.APIError):
        api.networks(filters={"no-such-filter": "x"})


# --- connect / disconnect -----------------------------------------------------------------


def test_connect_and_disconnect_running(api, client, track, running):
    name, net_id = new_net(api, track)
    assert not api.inspect_network(net_id)["Containers"]
    api.connect_container_to_network(running.id, net_id, aliases=["web", "www"])
    net = api.inspect_network(net_id)
    assert list(net["Containers"]) == [running.id]
    member, ep = net["Containers"][running.id], endpoint(api, running.id, name)
    assert member["Name"] == running.name and member["EndpointID"] == ep["EndpointID"]
    subnet = ipaddress.ip_network(net["IPAM"]["Config"][0]["Subnet"])
    assert ipaddress.ip_address(ep["IPAddress"]) in subnet
    assert member["IPv4Address"] == f"{ep['IPAddress']}/{subnet.prefixlen}"
    assert member["MacAddress"] == ep["MacAddress"] != ""
    assert ep["NetworkID"] == net_id and ep["Gateway"] == net["IPAM"]["Config"][0]["Gateway"]
    assert ep["Aliases"] == ["web", "www"]
    assert ep["DNSNames"] == [running.name, "web", "www", running.id[:12]]
    # A second interface, with that address, beside the default network's.
    addrs = running.exec_run(["ip", "-o", "-4", "addr", "show", "eth1"]).output.decode()
    assert f"{ep['IPAddress']}/{subnet.prefixlen}" in addrs
    assert set(api.inspect_container(running.id)["NetworkSettings"]["Networks"]) == {
        "bridge", name}
    with pytest.raises(docker.errors.APIError) as info:
        api.connect_container_to_network(running.id, net_id)
    assert info.value.status_code == 403
    api.disconnect_container_from_network(running.id, name)
    assert not api.inspect_network(net_id)["Containers"]
    assert name not in api.inspect_container(running.id)["NetworkSettings"]["Networks"]
    assert running.exec_run(["ip", "link", "show", "eth1"]).exit_code != 0
    with pytest.raises(docker.errors.APIError):
        api.disconnect_container_from_network(running.id, net_id)
    api.connect_container_to_network(running.id, net_id)
    api.disconnect_container_from_network(running.id, net_id, force=True)
    assert not api.inspect_network(net_id)["Containers"]


def test_connect_stopped_container_with_address(api, track, subnets):
    s = subnets.take()
    name, net_id = new_net(api, track, ipam=ipam(dict(subnet=s.cidr, gateway=s.gateway)))
    wanted = str(s.net[9])
    c = track.create(["sleep", "300"])
    api.connect_container_to_network(c.id, name, ipv4_address=wanted, aliases=["db"])
    ep = endpoint(api, c.id, name)
    assert ep["IPAMConfig"] == {"IPv4Address": wanted} and ep["Aliases"] == ["db"]
    assert ep["IPAddress"] == ""
    assert not api.inspect_network(net_id)["Containers"]  # nothing runs yet
    c.start()
    ep = endpoint(api, c.id, name)
    assert ep["IPAddress"] == wanted and ep["Gateway"] == s.gateway
    assert api.inspect_network(net_id)["Containers"][c.id]["IPv4Address"] == f"{wanted}/28"
    c.stop(timeout=1)
    api.disconnect_container_from_network(c.id, net_id)
    assert name not in api.inspect_container(c.id)["NetworkSettings"]["Networks"]
    # An address outside every subnet of the network is refused.
    with pytest.raises(docker.errors.APIError) as info:
        api.connect_container_to_network(c.id, name, ipv4_address="192.0.2.200")
    assert info.value.status_code == 400


def test_create_container_with_networking_config(api, track, subnets):
    s = subnets.take()
    name, net_id = new_net(api, track, ipam=ipam(dict(subnet=s.cidr)))
    extra, extra_id = new_net(api, track)
    wanted = str(s.net[5])
    config = api.create_networking_config({
        name: api.create_endpoint_config(aliases=["api", "svc"], ipv4_address=wanted),
        extra: api.create_endpoint_config(aliases=["side"]),
    })
    cname = unique()
    c = api.create_container(BASE, ["sleep", "300"], name=cname, networking_config=config,
                             host_config=api.create_host_config(network_mode=name))
    track.container(c["Id"])
    nets = api.inspect_container(c)["NetworkSettings"]["Networks"]
    assert set(nets) == {name, extra}
    assert nets[name]["IPAMConfig"]["IPv4Address"] == wanted
    assert nets[name]["Aliases"] == ["api", "svc"] and nets[name]["NetworkID"] == net_id
    assert nets[extra]["NetworkID"] == extra_id
    api.start(c)
    nets = api.inspect_container(c)["NetworkSettings"]["Networks"]
    assert nets[name]["IPAddress"] == wanted and nets[name]["IPPrefixLen"] == 28
    assert nets[name]["Gateway"] == s.gateway
    assert nets[name]["DNSNames"] == [cname, "api", "svc", c["Id"][:12]]  # hostname = short id
    assert nets[extra]["Aliases"] == ["side"] and nets[extra]["IPAddress"]
    for n in (net_id, extra_id):
        assert list(api.inspect_network(n)["Containers"]) == [c["Id"]]
    api.disconnect_container_from_network(c, extra)
    assert not api.inspect_network(extra_id)["Containers"]


def test_default_host_and_none_networks(api, track):
    # Aliases are for user-defined networks only.
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container(
            BASE, ["true"], host_config=api.create_host_config(network_mode="bridge"),
            networking_config=api.create_networking_config(
                {"bridge": api.create_endpoint_config(aliases=["nope"])}),
        )
    assert info.value.status_code == 400
    _, net_id = new_net(api, track)
    for mode in ("host", "none"):
        c = track.run_bg(network_mode=mode)
        assert list(api.inspect_container(c.id)["NetworkSettings"]["Networks"]) == [mode]
        with pytest.raises(docker.errors.APIError):
            api.connect_container_to_network(c.id, net_id)


def test_internal_network_has_no_default_route(api, client, track):
    net = track.network(client.networks.create(unique("dpy-net"), internal=True))
    c = track.run_bg(network=net.name)
    assert endpoint(api, c.id, net.name)["Gateway"] == ""
    routes = client.containers.run(BASE, ["ip", "route"], network=net.name, remove=True)
    subnet = net.attrs["IPAM"]["Config"][0]["Subnet"]
    assert routes.startswith(subnet.encode()) and b"default" not in routes


# --- the embedded DNS ---------------------------------------------------------------------


def test_containers_resolve_names_and_aliases(api, client, track):
    # Internal: no lookup leaves the daemon, so a miss is answered at once.
    name, _ = new_net(api, track, internal=True)
    server = start_on(api, track, name, hostname="dbhost",
                      networking_config=api.create_networking_config(
                          {name: api.create_endpoint_config(aliases=["db"])}))
    server_name = api.inspect_container(server)["Name"].lstrip("/")
    ep = endpoint(api, server, name)
    addr = ep["IPAddress"]
    assert ep["DNSNames"] == [server_name, "db", server[:12], "dbhost"]
    links = api.create_endpoint_config(links=[(server_name, "lnk")])
    client_c = client.containers.get(start_on(
        api, track, name, networking_config=api.create_networking_config({name: links})))
    assert endpoint(api, client_c.id, name)["Links"] == [f"{server_name}:lnk"]
    assert b"nameserver 127.0.0.11" in client_c.exec_run(["cat", "/etc/resolv.conf"]).output
    for q in (server_name, "db", server[:12], "dbhost", f"{server_name}.{name}", "lnk"):
        assert lookup(client_c, q) == {addr}, q
    assert lookup(client_c, unique("nosuch")) == set()
    assert client_c.exec_run(["ping", "-c", "1", "-W", "5", "db"]).exit_code == 0
    # Aliases and links given at connect time work too, until the disconnect.
    late = track.run_bg()
    api.connect_container_to_network(late.id, name, aliases=["late"], links=[(server_name, "srv")])
    assert lookup(client_c, "late") == {endpoint(api, late.id, name)["IPAddress"]}
    assert lookup(late, "db") == lookup(late, "srv") == {addr}
    api.disconnect_container_from_network(late.id, name)
    assert lookup(client_c, "late") == set()


# --- remove / prune -----------------------------------------------------------------------


def test_remove(api, track):
    name = unique("dpy net")  # a space is fine in a name
    net_id = track.network(api.create_network(name))["Id"]
    assert api.inspect_network(name)["Id"] == net_id
    cid = start_on(api, track, name)
    with pytest.raises(docker.errors.APIError) as info:
        api.remove_network(net_id)
    assert info.value.status_code == 403  # "has active endpoints"
    api.remove_container(cid, force=True)
    api.remove_network(net_id)
    assert name not in [n["Name"] for n in api.networks()]
    for gone in (api.inspect_network, api.remove_network):
        with pytest.raises(docker.errors.NotFound):
            gone(net_id)
    with pytest.raises(docker.errors.APIError) as info:
        api.remove_network("bridge")
    assert info.value.status_code == 403


def test_prune(api, client, track):
    tag = unique("prune")
    unused, unused_id = new_net(api, track, labels={"dpy.prune": tag})
    used, used_id = new_net(api, track, labels={"dpy.prune": tag})
    kept, _ = new_net(api, track, labels={"dpy.prune": "other"})
    start_on(api, track, used)
    result = api.prune_networks(filters={"label": f"dpy.prune={tag}"})
    assert result["NetworksDeleted"] == [unused]
    with pytest.raises(docker.errors.NotFound):
        api.inspect_network(unused_id)
    assert api.inspect_network(used_id)["Name"] == used
    assert api.inspect_network(kept)["Name"] == kept
    again = client.networks.prune(filters={"label": f"dpy.prune={tag}"})
    assert not again["NetworksDeleted"]


# --- models -------------------------------------------------------------------------------


def test_models_create_get_list_remove(client, track):
    name, tag = unique("dpy-net"), unique("tag")
    net = track.network(client.networks.create(name, labels={"foo": tag}))
    assert isinstance(net, docker.models.networks.Network)
    assert net.name == name and net.attrs["Labels"] == {"foo": tag}
    for ref in (net.id, name, net.short_id):
        assert client.networks.get(ref).id == net.id
    assert net.id in [n.id for n in client.networks.list()]
    for kwargs in ({"ids": [net.id]}, {"names": [name]}, {"filters": {"label": f"foo={tag}"}}):
        assert [n.id for n in client.networks.list(**kwargs)] == [net.id]
    assert client.networks.list(ids=["fdhjklfdfdshjkfds"]) == []
    assert client.networks.list(names=[unique("dpy-none")]) == []
    net.remove()
    assert net.id not in [n.id for n in client.networks.list()]
    with pytest.raises(docker.errors.NotFound):
        client.networks.get(net.id)


def test_models_connect_disconnect(client, track):
    net = track.network(client.networks.create(unique("dpy-net")))
    container = track.create(["sleep", "300"])
    assert net.containers == []
    net.connect(container, aliases=["m"])
    container.start()
    assert client.networks.get(net.id).containers == [container]
    greedy = client.networks.list(ids=[net.id], greedy=True)
    assert [c for n in greedy for c in n.containers] == [container]
    net.reload()
    assert [c.id for c in net.containers] == [container.id]
    container.reload()
    ep = container.attrs["NetworkSettings"]["Networks"][net.name]
    assert ep["NetworkID"] == net.id and ep["Aliases"] == ["m"] and ep["IPAddress"]
    net.disconnect(container)
    net.reload()
    assert net.containers == [] and client.networks.get(net.id).containers == []
    container.reload()
    assert net.name not in container.attrs["NetworkSettings"]["Networks"]
