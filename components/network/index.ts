/**
 * Network: a VPC over 2-3 AZs with public and private subnets, NAT, and an S3 gateway
 * endpoint (image layers and model weights from S3 skip the NAT's per-GB charge);
 * or the ids of an existing VPC passed through.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { natGatewaysFor } from "../../capacity/cost";
import { planSubnets } from "../../stacks/subnets";

export interface NetworkArgs {
    /** Name of the EKS cluster, for the subnet discovery tags. */
    readonly clusterName: string;
    /** @default "10.0.0.0/16" */
    readonly vpcCidr: string;
    /** @default 2 */
    readonly availabilityZoneCount: number;
    /** "single": one NAT gateway for all AZs; "perAz": one per AZ. @default "single" */
    readonly natGateways: "single" | "perAz";
    /** Use this VPC instead of creating one. */
    readonly existing?: {
        readonly vpcId: string;
        readonly publicSubnetIds: readonly string[];
        readonly privateSubnetIds: readonly string[];
    };
}

export class Network extends pulumi.ComponentResource {
    readonly vpcId: pulumi.Output<string>;
    readonly vpcCidr: pulumi.Output<string>;
    readonly publicSubnetIds: pulumi.Output<string>[];
    /** CIDRs of the public subnets, where the internet-facing ALB's addresses are. */
    readonly publicSubnetCidrs: pulumi.Output<string>[];
    readonly privateSubnetIds: pulumi.Output<string>[];
    /** NAT gateways created (0 for an existing VPC), for the cost estimate. */
    readonly natGatewayCount: number;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gpuserve:network:Network", name, {}, opts);

        if (args.existing) {
            this.vpcId = pulumi.output(args.existing.vpcId);
            this.vpcCidr = aws.ec2.getVpcOutput({ id: args.existing.vpcId }, { parent: this }).cidrBlock;
            this.publicSubnetIds = args.existing.publicSubnetIds.map((id) => pulumi.output(id));
            this.publicSubnetCidrs = args.existing.publicSubnetIds.map((id) => aws.ec2.getSubnetOutput({ id }, { parent: this }).cidrBlock);
            this.privateSubnetIds = args.existing.privateSubnetIds.map((id) => pulumi.output(id));
            this.natGatewayCount = 0;
            this.registerOutputs({ vpcId: this.vpcId });
            return;
        }

        const parent = { parent: this };
        const plan = planSubnets(args.vpcCidr, args.availabilityZoneCount);
        const azs = aws.getAvailabilityZonesOutput({ state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] }, parent);

        const vpc = new aws.ec2.Vpc(
            `${name}-vpc`,
            { cidrBlock: args.vpcCidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: `${name}-vpc` } },
            parent,
        );
        const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { Name: `${name}-igw` } }, parent);
        const publicRt = new aws.ec2.RouteTable(
            `${name}-public`,
            { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }], tags: { Name: `${name}-public` } },
            parent,
        );

        // Subnets are keyed by AZ position (a, b, c): adding an AZ appends, never renames.
        const suffix = (i: number) => String.fromCharCode(97 + i);
        const publicSubnets = plan.publicCidrs.map((cidr, i) => {
            const subnet = new aws.ec2.Subnet(
                `${name}-public-${suffix(i)}`,
                {
                    vpcId: vpc.id,
                    cidrBlock: cidr,
                    availabilityZone: azs.names[i],
                    mapPublicIpOnLaunch: false,
                    tags: { Name: `${name}-public-${suffix(i)}`, "kubernetes.io/role/elb": "1", [`kubernetes.io/cluster/${args.clusterName}`]: "shared" },
                },
                parent,
            );
            new aws.ec2.RouteTableAssociation(`${name}-public-${suffix(i)}`, { subnetId: subnet.id, routeTableId: publicRt.id }, parent);
            return subnet;
        });

        const natCount = natGatewaysFor(args);
        const nats = Array.from({ length: natCount }, (_, i) => {
            const eip = new aws.ec2.Eip(`${name}-nat-${suffix(i)}`, { domain: "vpc", tags: { Name: `${name}-nat-${suffix(i)}` } }, parent);
            return new aws.ec2.NatGateway(
                `${name}-nat-${suffix(i)}`,
                { allocationId: eip.id, subnetId: publicSubnets[i].id, tags: { Name: `${name}-nat-${suffix(i)}` } },
                { parent: this, dependsOn: [igw] },
            );
        });

        const privateRts: aws.ec2.RouteTable[] = [];
        const privateSubnets = plan.privateCidrs.map((cidr, i) => {
            const subnet = new aws.ec2.Subnet(
                `${name}-private-${suffix(i)}`,
                {
                    vpcId: vpc.id,
                    cidrBlock: cidr,
                    availabilityZone: azs.names[i],
                    tags: {
                        Name: `${name}-private-${suffix(i)}`,
                        "kubernetes.io/role/internal-elb": "1",
                        [`kubernetes.io/cluster/${args.clusterName}`]: "shared",
                    },
                },
                parent,
            );
            const nat = nats[Math.min(i, nats.length - 1)];
            const rt = new aws.ec2.RouteTable(
                `${name}-private-${suffix(i)}`,
                { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }], tags: { Name: `${name}-private-${suffix(i)}` } },
                parent,
            );
            new aws.ec2.RouteTableAssociation(`${name}-private-${suffix(i)}`, { subnetId: subnet.id, routeTableId: rt.id }, parent);
            privateRts.push(rt);
            return subnet;
        });

        const region = aws.getRegionOutput({}, parent);
        new aws.ec2.VpcEndpoint(
            `${name}-s3`,
            {
                vpcId: vpc.id,
                serviceName: pulumi.interpolate`com.amazonaws.${region.region}.s3`,
                vpcEndpointType: "Gateway",
                routeTableIds: privateRts.map((rt) => rt.id),
                tags: { Name: `${name}-s3` },
            },
            parent,
        );

        this.vpcId = vpc.id;
        this.vpcCidr = vpc.cidrBlock;
        this.publicSubnetIds = publicSubnets.map((s) => s.id);
        this.publicSubnetCidrs = publicSubnets.map((s) => s.cidrBlock);
        this.privateSubnetIds = privateSubnets.map((s) => s.id);
        this.natGatewayCount = natCount;
        this.registerOutputs({ vpcId: this.vpcId, publicSubnetIds: this.publicSubnetIds, privateSubnetIds: this.privateSubnetIds });
    }
}
