# Inputs of the AMI build. `make build` passes the Trino version, its Java, the agent's git
# revision and the payload directory; the AWS placement comes from the environment or -var.
# Version numbers are checked by install.sh --plan, which make runs before Packer (Packer 1.6's
# validation rules cannot call functions, and the tests validate with it).

variable "trino_version" {
  type        = string
  description = "Trino release baked into the AMI (its trino-version tag), e.g. 476."
}

variable "java_version" {
  type        = string
  description = "Corretto major version; make computes it from the Trino version (install.sh --plan)."
}

variable "trino_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of the server tarball; empty uses image/trino-sha256.txt."
}

variable "agent_version" {
  type        = string
  description = "Git revision of the node agent installed from this repository."
}

variable "payload_dir" {
  type        = string
  description = "Directory with install.sh, files/, trino-sha256.txt and wheelhouse/ (make stages it)."
}

variable "region" {
  type        = string
  description = "Region to build in; the AMI stays there (copy it for other regions)."
}

variable "instance_type" {
  type        = string
  default     = "m6i.large"
  description = "Build instance type (x86_64)."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the build instance."
}

variable "subnet_id" {
  type        = string
  description = "Subnet of the build instance; it needs outbound HTTPS (NAT) to the OS and Trino downloads."
}

variable "ssh_interface" {
  type        = string
  default     = "private_ip"
  description = "How Packer reaches the build instance: private_ip (from inside the VPC) or session_manager."
  validation {
    condition     = contains(["private_ip", "session_manager", "public_ip"], var.ssh_interface)
    error_message = "The ssh_interface must be private_ip, session_manager or public_ip."
  }
}

variable "ssh_source_cidrs" {
  type        = list(string)
  default     = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
  description = "Who may reach the build instance's SSH port (Packer's temporary security group); private ranges only by default."
}

variable "associate_public_ip_address" {
  type        = bool
  default     = false
  description = "Give the build instance a public IP (only for ssh_interface = public_ip)."
}

variable "iam_instance_profile" {
  type        = string
  default     = ""
  description = "Instance profile of the build instance (session_manager needs one with SSM access)."
}

variable "root_volume_gb" {
  type        = number
  default     = 16
  description = "Root volume size of the AMI in GiB (Trino alone is about 1 GiB)."
}

variable "kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key for the AMI's encrypted snapshot; empty uses the account's default EBS key."
}

variable "ami_users" {
  type        = list(string)
  default     = []
  description = "Other AWS accounts allowed to launch the AMI."
}
