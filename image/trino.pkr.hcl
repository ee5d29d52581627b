# The presto-on-aws node AMI: Amazon Linux 2023, Corretto, one pinned Trino release, the node
# agent from this repository and its systemd units. Nothing cluster-specific: every stack on this
# Trino version can use it, and the Pulumi program finds it by its trino-version tag.

locals {
  build_time = timestamp()
  build_id   = formatdate("YYYYMMDDhhmmss", local.build_time)
  ami_name   = "presto-on-aws-trino-${var.trino_version}-${local.build_id}"
  tags = {
    "Name"                  = local.ami_name
    "trino-version"         = var.trino_version
    "java-version"          = var.java_version
    "agent-version"         = var.agent_version
    "build-time"            = local.build_time
    "presto-on-aws:purpose" = "node-image"
  }
  install_args = join(" ", compact([
    "--trino-version ${var.trino_version}",
    "--java-version ${var.java_version}",
    "--agent-version ${var.agent_version}",
    "--wheelhouse /tmp/presto-on-aws/wheelhouse",
    var.trino_sha256 == "" ? "" : "--trino-sha256 ${var.trino_sha256}",
  ]))
}

source "amazon-ebs" "node" {
  region        = var.region
  instance_type = var.instance_type
  vpc_id        = var.vpc_id
  subnet_id     = var.subnet_id

  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-*-x86_64"
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  ssh_username                = "ec2-user"
  ssh_interface               = var.ssh_interface
  associate_public_ip_address = var.associate_public_ip_address
  iam_instance_profile        = var.iam_instance_profile
  # Packer's own security group would otherwise open SSH to 0.0.0.0/0.
  temporary_security_group_source_cidrs = var.ssh_source_cidrs

  # IMDSv2 only, on the build instance as on every node.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  # ...and instances launched from the AMI default to IMDSv2 too.
  imds_support = "v2.0"

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.root_volume_gb
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    encrypted             = true
    delete_on_termination = true
  }
  encrypt_boot = true
  kms_key_id   = var.kms_key_id

  ami_name        = local.ami_name
  ami_description = "presto-on-aws node: Trino ${var.trino_version}, Corretto ${var.java_version}, agent ${var.agent_version}"
  ami_users       = var.ami_users
  tags            = local.tags
  snapshot_tags   = local.tags
  run_tags        = { "Name" = "presto-on-aws-ami-build-${var.trino_version}" }
}

build {
  sources = ["source.amazon-ebs.node"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/presto-on-aws"]
  }

  # install.sh, its files, the checksum table and the agent's wheels (built from this repository).
  provisioner "file" {
    source      = "${var.payload_dir}/"
    destination = "/tmp/presto-on-aws"
  }

  provisioner "shell" {
    inline = [
      "sudo dnf upgrade -y -q --releasever=latest",
      "sudo bash /tmp/presto-on-aws/install.sh ${local.install_args}",
    ]
  }

  # Leave nothing of the build behind: no payload, no package cache, no build key.
  provisioner "shell" {
    inline = [
      "sudo rm -rf /tmp/presto-on-aws /var/cache/dnf",
      "sudo rm -f /root/.ssh/authorized_keys /home/ec2-user/.ssh/authorized_keys",
    ]
  }

  post-processor "manifest" {
    output     = "${var.payload_dir}/../manifest.json"
    strip_path = true
  }
}
